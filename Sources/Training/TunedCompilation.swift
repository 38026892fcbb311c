import Foundation
import GraphIR
import Passes
import Runtime

/// A model compiled for inference, or the scoring graph of a model compiled for training, with
/// its choices made by measurement, for the command line and for programs alike:
/// `Pipelines.inference` (and `passes` after it) or `Pipelines.evaluation`, each
/// convolution's algorithm chosen by `tuner` (`ConvolutionTuning`), then confirmed in the
/// whole graph.
///
/// Timing a layer alone, as `ConvolutionTuning` does, misses what the layer meets inside the
/// network (caches warmed or evicted by its neighbours, the layout its input arrives in, the
/// residual read by its epilogue). So where a layer's runner-up came within `closeMargin` of
/// its winner, the whole graph is timed (synthetic weights and inputs) with the per-layer
/// winners, with each of the `mostSingleFlips` slowest close layers flipped to its runner-up alone,
/// and with all of them flipped; the fastest stays if it beats the per-layer winners twice,
/// in the rounds and timed against them again (`Tuner.choose`; choice point `conv2d-graph`, keyed by a
/// fingerprint of the model). Each close layer's outcome is remembered as `conv2d-in-graph`
/// with the layer's key and the fingerprint, so later runs read it from the cache without
/// timing; `--profile` lists both with their source.
///
/// With `.off`, or when `context.options.convolutionChooser` is set (`--convolution`), no
/// measuring is done: the fixed default (blocked) or the chooser's algorithm, as before.
public enum TunedCompilation {
    /// How much slower than the winner (timed alone) a layer's runner-up may be and still be
    /// tried in the whole graph: up to twice as slow, since a layer timed alone can mislead by
    /// that much (its input arrives cold, and its neighbours' reorders are not counted).
    public static let closeMargin = 1.0
    /// At most this many close calls are tried one at a time (the slowest layers), so that the
    /// whole-graph step stays a few runs of the model per variant (and a few more of two
    /// variants when one beats the per-layer winners).
    public static let mostSingleFlips = 5

    /// `lowered` (a model lowered in infer mode) -> the graph to run, compiled in `context`
    /// (which keeps the pass statistics) with `tuner`'s choices for executors of `threads`,
    /// `passes` run after the inference pipeline; a runner-up within `closeMargin` of its
    /// layer's winner is tried in the whole graph.
    public static func inference(_ lowered: Graph, _ context: PassContext = PassContext(), tuner: Tuner = .shared,
                                 threads: Int? = nil, passes extra: [Pass] = [], closeMargin: Double = closeMargin) throws -> Graph {
        let pipeline = Pipeline(name: "inference", passes: Pipelines.inference(context.options).passes + extra)
        return try tuned(lowered, pipeline, context, tuner: tuner, threads: threads, closeMargin: closeMargin)
    }

    /// A model lowered for training -> the graph that scores it and the graph the trainer
    /// steps, as `Pipelines.compileForTraining` gives them (one run of `forward`), with the
    /// scoring graph's convolutions chosen as `inference` chooses them, timed at `evalBatch`
    /// images (the batch it is run with; its batch dimension is symbolic) on executors of
    /// `evalThreads`. The training graph keeps conv2d (no choice to make).
    public static func training(_ lowered: Graph, _ context: PassContext = PassContext(), tuner: Tuner = .shared,
                                evalThreads: Int? = nil, evalBatch: Int, closeMargin: Double = closeMargin) throws -> (forward: Graph, training: Graph) {
        let prepared = try Pipelines.forward(context.options).run(lowered, context)
        let training = try Pipelines.training(context.options).run(prepared, context)
        let batch = context.options.batchSize
        context.options.batchSize = evalBatch
        defer { context.options.batchSize = batch }
        let forward = try tuned(prepared, Pipelines.evaluation(context.options), context, tuner: tuner, threads: evalThreads,
                                closeMargin: closeMargin)
        return (forward, training)
    }

    /// `pipeline` run on `lowered` in `context`, each convolution's algorithm chosen by `tuner`
    /// and the close calls confirmed in the whole graph (see the type's comment).
    static func tuned(_ lowered: Graph, _ pipeline: Pipeline, _ context: PassContext, tuner: Tuner, threads: Int?,
                      closeMargin: Double) throws -> Graph {
        // Nothing to choose without a convolution: one compilation, no fingerprint.
        guard context.options.convolutionChooser == nil, lowered.nodes.contains(where: { $0.op == .conv2d }) else {
            return try pipeline.run(lowered, context)
        }
        let tuned = ConvolutionTuning.chooser(tuner: tuner, threads: threads)
        guard tuner.mode != .off, context.options.fusion else {
            context.options.convolutionChooser = tuned
            defer { context.options.convolutionChooser = nil }
            return try pipeline.run(lowered, context)
        }
        let fingerprint = "-g" + fingerprintHex(lowered)
        // First pass: each layer's own winner, or its confirmed choice from an earlier run.
        let layers = LayerChoices()
        var options = context.options
        options.convolutionChooser = { layer, candidates in
            var chosen = ConvolutionTuning.choose(layer, candidates: candidates, tuner: tuner, threads: threads)
            let confirmedKey = ConvolutionTuning.key(layer, threads: threads, point: "conv2d-in-graph", detail: fingerprint)
            if let name = tuner.recall(confirmedKey, variants: candidates.map(\.rawValue)), let a = ConvolutionAlgorithm(rawValue: name) {
                chosen = a
            } else if let other = ConvolutionTuning.closeRunnerUp(layer, winner: chosen, tuner: tuner, threads: threads, margin: closeMargin),
                      candidates.contains(other.algorithm) {
                layers.close(layer, runnerUp: other.algorithm, seconds: other.seconds)
            }
            layers.set(layer, chosen)
            return chosen
        }
        _ = try pipeline.run(lowered, PassContext(options: options))
        var final = layers.all
        // The slowest layers' close calls: a flip of a layer that takes less time than the
        // whole graph's run-to-run spread could not be confirmed by timing the graph. Each
        // alone, then all together, against the per-layer winners.
        let close = layers.closeCalls.sorted { $0.seconds > $1.seconds }.prefix(mostSingleFlips)
        if !close.isEmpty {
            var variants: [(name: String, choices: [ConvolutionLayer: ConvolutionAlgorithm])] = [("layers", final)]
            for (i, call) in close.enumerated() {
                var one = final
                one[call.layer] = call.runnerUp
                variants.append(("flip-\(i + 1)", one))
            }
            if close.count > 1 {
                var all = final
                for call in close { all[call.layer] = call.runnerUp }
                variants.append(("runner-ups", all))
            }
            // Keyed by the batch the graph is timed at too: the fingerprint is of a graph whose
            // batch is symbolic, and the same model's close calls differ from batch to batch.
            let batch = context.options.batchSize ?? 1
            let graphKey = TuningKey(point: "conv2d-graph", shapes: [[batch]], detail: String(fingerprint.dropFirst()) + "-\(close.count)close",
                                     threads: max(threads ?? 1, 1))
            // One variant's executor at a time (each holds the model's memory), made afresh at
            // each measurement (the tuner interleaves them); each graph is compiled once.
            var compiled: [String: Graph] = [:]
            func variantRun(_ name: String) -> (() -> Double)? {
                guard let choices = variants.first(where: { $0.name == name })?.choices else { return nil }
                var variantOptions = options
                variantOptions.convolutionChooser = fixed(choices)
                guard let graph = compiled[name] ?? (try? pipeline.run(lowered, PassContext(options: variantOptions))) else { return nil }
                compiled[name] = graph
                return try? wholeGraphRun(graph, tuner: tuner, threads: threads, batch: batch)
            }
            // A model the synthetic feed cannot run (a size it cannot give, a run that fails) is
            // left with the per-layer winners, and nothing is remembered as measured for it.
            let decided = tuner.recall(graphKey, variants: variants.map(\.name)) != nil
            if decided || variantRun("layers") != nil {
                let winner = tuner.choose(graphKey, variants: variants.map(\.name)) { name in variantRun(name)?() ?? .infinity }
                compiled = [:]
                final = variants.first { $0.name == winner }?.choices ?? final
                // Measured as part of `graphKey`'s decision, which lists the times.
                let busy = tuner.decisions.first { $0.key == graphKey }?.source == .measuredBusy
                for call in close {
                    let key = ConvolutionTuning.key(call.layer, threads: threads, point: "conv2d-in-graph", detail: fingerprint)
                    tuner.remember(key, variant: (final[call.layer] ?? .blocked).rawValue, partOf: graphKey)
                    // Not confirmed for the cache: the next run measures the layer again, finds
                    // the close call again and confirms it.
                    if busy { tuner.measureAgain(ConvolutionTuning.key(call.layer, threads: threads)) }
                }
            }
        }
        context.options.convolutionChooser = fixed(final)
        defer { context.options.convolutionChooser = nil }
        return try pipeline.run(lowered, context)
    }

    /// A chooser giving each layer its algorithm in `choices` (else the default).
    static func fixed(_ choices: [ConvolutionLayer: ConvolutionAlgorithm]) -> ConvolutionChooser {
        { layer, candidates in choices[layer].flatMap { candidates.contains($0) ? $0 : nil } ?? candidates[0] }
    }

    /// One timed run of `graph` on an executor of its own, with synthetic parameters and
    /// inputs (integer inputs zeros), every symbolic size `batch`; run once here, which computes
    /// the values derived from parameters as a model's first run does.
    static func wholeGraphRun(_ graph: Graph, tuner: Tuner, threads: Int?, batch: Int = 1) throws -> () -> Double {
        let store = ParameterStore()
        for v in graph.parameters {
            let node = graph[v]
            guard let shape = node.type.shape.resolved([:]), node.type.dtype == .f32 else {
                throw RuntimeError("parameter \(node.name ?? "%\(v.id)") has no known f32 shape")
            }
            store.set(node.name ?? "%\(v.id)", HostTensor(shape: shape, floats: synthetic(shape, positive: shape.count == 1)))
        }
        var feeds: [String: HostTensor] = [:]
        for (i, v) in graph.inputs.enumerated() {
            let node = graph[v]
            var sizes: [String: Int] = [:]
            for case .symbol(let s) in node.fedType.shape.dims { sizes[s] = batch }
            guard let shape = node.fedType.shape.resolved(sizes) else { throw RuntimeError("input \(i) has no known shape") }
            switch node.type.dtype {
            case .f32: feeds[node.name ?? "%\(v.id)"] = HostTensor(shape: shape, floats: synthetic(shape, positive: false))
            // Labels, token ids, indices: 0 is one of every such input's values (a classifier's
            // scoring graph has its labels as an input).
            case .i64: feeds[node.name ?? "%\(v.id)"] = HostTensor(zeros: shape, dtype: .i64)
            }
        }
        let executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: threads, tuner: tuner),
                                    planner: BufferPlan.lifetimes)
        // A model that does not run on this feed is not a variant (every time infinite would
        // be remembered as a measured decision); this first run is the tuner's warm-up too.
        _ = try executor.run(feeds: feeds, parameters: store)
        return {
            let start = DispatchTime.now().uptimeNanoseconds
            guard (try? executor.run(feeds: feeds, parameters: store)) != nil else { return .infinity }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
    }

    /// Values of a typical size for a layer of `shape` (about 1/sqrt(fan-in), signs mixed; in
    /// [0.5, 1.5) for vectors, which include BatchNorm's variances), no zeros or denormals.
    static func synthetic(_ shape: [Int], positive: Bool) -> [Float] {
        let count = shape.reduce(1, *)
        let scale = positive ? 1 : Float(1 / Double(max(count / max(shape.first ?? 1, 1), 1)).squareRoot())
        return (0..<count).map { i in
            let u = Float((i &* 2_654_435_761) % 1009) / 1009
            return positive ? 0.5 + u : scale * (2 * u - 1 + 0.001)
        }
    }

    /// FNV-1a of the model's IR text: the same model gives the same key in every process.
    static func fingerprintHex(_ g: Graph) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in IRPrinter.print(g, locations: false).utf8 { h = (h ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(h, radix: 16)
    }
}

/// The layers the first compilation met, what each got, and the close calls (thread-safe:
/// the chooser is `@Sendable`).
private final class LayerChoices: @unchecked Sendable {
    /// `seconds`: the layer's winner's time alone.
    struct CloseCall { let layer: ConvolutionLayer; let runnerUp: ConvolutionAlgorithm; let seconds: Double }
    private let lock = NSLock()
    private var chosen: [ConvolutionLayer: ConvolutionAlgorithm] = [:]
    private var close: [CloseCall] = []

    func set(_ layer: ConvolutionLayer, _ a: ConvolutionAlgorithm) { lock.withLock { chosen[layer] = a } }
    func close(_ layer: ConvolutionLayer, runnerUp: ConvolutionAlgorithm, seconds: Double) {
        lock.withLock { if !close.contains(where: { $0.layer == layer }) { close.append(CloseCall(layer: layer, runnerUp: runnerUp, seconds: seconds)) } }
    }
    var all: [ConvolutionLayer: ConvolutionAlgorithm] { lock.withLock { chosen } }
    var closeCalls: [CloseCall] { lock.withLock { close } }
}
