import Datasets
import Foundation
import GraphIR
import ONNX
import Passes
import Runtime
import Training

// onnx-bench MODEL.onnx INPUTS.npz [--threads N] [--warmup W] [--repeats R] [--fusion on|off]
//
// Times graphc on an ONNX model, as bench/onnx.sh times onnxruntime on the same file and
// inputs: imports the model, compiles it (the inference pipeline, then with fusion the speed-up
// passes; convolution algorithms and kernel choices tuned as `graphc --tune fast` tunes them),
// runs it W times untimed and R times timed, and prints JSON with each run's seconds.

var arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, _ fallback: String) -> String {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return fallback }
    let v = arguments[i + 1]
    arguments.removeSubrange(i...(i + 1))
    return v
}
let threads = Int(option("--threads", "")) ?? 2
let warmup = Int(option("--warmup", "2")) ?? 2
let repeats = Int(option("--repeats", "10")) ?? 10
let fusion = option("--fusion", "on") != "off"
guard arguments.count == 2 else {
    FileHandle.standardError.write(Data("usage: onnx-bench MODEL.onnx INPUTS.npz [--threads N] [--warmup W] [--repeats R] [--fusion on|off]\n".utf8))
    exit(2)
}

do {
    BLASInfo.setThreads(threads)
    let model = try ONNXModel.load(path: arguments[0])
    // Kernel and convolution-algorithm choices as the graphc command makes them (--tune fast,
    // the user's tuning cache), so the two are timed on the same compiled program.
    let tuner = Tuner.standard(mode: .fast)
    let graph = try TunedCompilation.inference(model.graph, PassContext(options: PassOptions(fusion: fusion)), tuner: tuner, threads: threads,
                                               passes: fusion ? Pipelines.optimisations : [])
    let parameters = ParameterStore()
    try model.initialise(parameters, for: graph)
    let npz = try NPZArchive(path: arguments[1])
    var feeds: [String: HostTensor] = [:]
    for key in npz.keys {
        let a = try npz.array(key)
        feeds[key] = a.dtype == .i64 ? HostTensor(shape: a.shape, ints: try a.int64s()) : HostTensor(shape: a.shape, floats: a.floats())
    }
    let executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: threads, tuner: tuner), planner: BufferPlan.lifetimes)
    for _ in 0..<warmup { _ = try executor.run(feeds: feeds, parameters: parameters) }
    var seconds: [Double] = []
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        _ = try executor.run(feeds: feeds, parameters: parameters)
        seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
    print("{\"threads\": \(threads), \"fusion\": \(fusion), \"nodes\": \(graph.nodes.count), \"seconds\": [\(seconds.map { String($0) }.joined(separator: ", "))]}")
} catch {
    FileHandle.standardError.write(Data("onnx-bench: \(error)\n".utf8))
    exit(1)
}
