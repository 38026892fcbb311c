import ONNX
import Passes

/// `graphc MODEL --export-onnx OUT.onnx`, as a library call.
public enum ModelExport {
    /// Compiles `file`'s inference graph without graphc's own speed-ups (the blocked layout and
    /// fused kernels are graphc's runtime ops, not ONNX's, and an ONNX runtime makes its own),
    /// loads or initialises its weights as `ModelRun` does, and writes it to `path` as ONNX.
    public static func write(file: String, weights: String? = nil, seed: UInt64? = nil, threads: Int? = nil,
                             options: PassOptions = PassOptions(), to path: String) throws -> (model: ModelRun, written: Onnx_ModelProto) {
        let run = try exportable(file: file, weights: weights, seed: seed, threads: threads, options: options)
        return (run, try ONNXExport.write(run.graph, parameters: run.parameters, to: path))
    }

    /// The `ModelRun` whose graph and weights `write` exports (and which runs what was
    /// exported), compiled in `context` (default: `context(options)`, which keeps the statistics).
    public static func exportable(file: String, weights: String? = nil, seed: UInt64? = nil, threads: Int? = nil,
                                  options: PassOptions = PassOptions(), context: PassContext? = nil) throws -> ModelRun {
        try ModelRun(file: file, weights: weights, seed: seed, threads: threads, context: context ?? Self.context(options))
    }

    /// A pass context for `options` without the speed-up passes.
    public static func context(_ options: PassOptions) -> PassContext {
        var unfused = options
        unfused.fusion = false
        return PassContext(options: unfused)
    }
}
