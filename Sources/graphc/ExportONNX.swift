import Foundation
import ONNX
import Passes
import Training

/// `graphc MODEL --export-onnx OUT.onnx [--weights W]`: the inference graph that `--run` runs,
/// with the same weights, written as ONNX.
extension Graphc {
    func exportToONNX(_ path: String) throws {
        let context = ModelExport.context(passOptions)
        let model = try ModelExport.exportable(file: files[0], weights: weights, seed: seed, threads: threads, context: context)
        reporter.compiled("inference", context)
        let written = try ONNXExport.write(model.graph, parameters: model.parameters, to: path)
        let inputs = written.graph.input.map(\.name).joined(separator: ", ")
        let outputs = written.graph.output.map(\.name).joined(separator: ", ")
        print("wrote \(path): ONNX opset \(ONNXExport.opsetVersion), \(written.graph.node.count) nodes; inputs \(inputs); outputs \(outputs) (\(model.weightsProvenance))")
    }
}
