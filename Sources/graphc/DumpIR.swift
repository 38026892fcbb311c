import Foundation
import Frontend
import GraphIR
import Passes

/// `--dump-ir`: the IR after the compile pipeline, after one named pass, or after every pass.
enum DumpIR {
    static func run(file: String, options: FrontendOptions, pipeline names: [String]?, after: String?, timePasses: Bool) throws {
        let graph = try ModelLoading.load(file, options: options)
        let pipelineNames = names ?? Compile.pipeline(for: graph)
        let pipeline = try Pipeline(pipelineNames)
        if let a = after, a != "all", !pipelineNames.contains(a) {
            throw PassError(pass: "pipeline", "--after \(a): the pipeline (\(pipelineNames.joined(separator: ", "))) has no such pass")
        }
        if after == "all" { print("// IR as lowered\n" + IRPrinter.print(graph), terminator: "") }
        let result = try pipeline.run(graph) { pass, g, time in
            if after == "all" || after == pass.name { print("\n// IR after \(pass.name)\n" + IRPrinter.print(g), terminator: "") }
            if timePasses { Compile.printTime(pass, time, g) }
        }
        if after == nil { print(IRPrinter.print(result), terminator: "") }
    }
}

/// Which passes compile a model, and the shared bits of running them.
enum Compile {
    /// The forward clean-ups; a graph with a loss, lowered for training, also gets its
    /// gradients and the clean-ups again (autodiff leaves dead and duplicate nodes).
    static func pipeline(for g: Graph) -> [String] {
        var names = Pipelines.default + forwardOptimisations
        if g.loss != nil { names += ["autodiff", "constant-folding", "cse", "dce", "verify"] }
        return names + optimisations + planning
    }

    /// Speed-ups of the forward graph that autodiff should see (it then differentiates the
    /// cheaper form).
    static let forwardOptimisations: [String] = ["contract", "stack-products", "dce", "verify"]

    /// Speed-ups run last, on the forward and on the training graph alike.
    static let optimisations: [String] = ["stack-sums", "hoist", "fusion", "dce", "verify"]

    /// What --dump-ir adds after the optimisations: the memory plan, shown in the IR.
    static let planning: [String] = ["memory-plan"]

    static func printTime(_ pass: Pass, _ time: Duration, _ g: Graph) {
        let ms = Double(time.components.seconds) * 1000 + Double(time.components.attoseconds) / 1e15
        FileHandle.standardError.write(Data(String(format: "%-18@ %9.2f ms  %7d nodes\n", pass.name as NSString, ms, g.nodes.count).utf8))
    }
}
