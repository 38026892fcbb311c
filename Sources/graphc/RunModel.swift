import Foundation
import Passes
import Runtime
import Training

/// `graphc MODEL --run [--inputs ...] [--weights W] [--out OUT.npz]`: the inference graph run
/// once; the table of outputs goes to stdout, notes to stderr.
extension Graphc {
    func runOnce() throws {
        let file = files[0]
        let context = PassContext(options: passOptions)
        let model = try ModelRun(file: file, weights: weights, seed: seed, threads: threads, context: context)
        reporter.compiled("inference", context)
        let given = try RunInputs(specs: runInputs)
        let feeds = try model.feeds(from: given, fillMissing: runInputs.isEmpty || randomInputs, symbolSize: batchSize ?? 1)
        let parameters = ParameterCount.report(model.graph)
        note("graphc: \(file), inference graph, \(ParameterCount.grouped(parameters.total)) parameters (\(model.weightsProvenance))")
        if !feeds.random.isEmpty {
            note("note: random inputs (seed \(model.seed &+ 1)): " + feeds.random.joined(separator: "; "))
        }
        let outputs = try model.run(feeds.tensors)
        print(ModelRun.table(outputs), terminator: "")
        if let path = out {
            try ModelRun.writeNPZ(outputs, to: path)
            print("wrote \(path): " + outputs.map(\.name).joined(separator: ", "))
        }
    }

    private func note(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}
