import GraphIR

/// How each convolution of an inference graph runs, chosen by measurement (`--tune`): the
/// `blocked-layout` pass asks a `ConvolutionChooser` per layer, and this one times the
/// layer's candidates (im2col + GEMM, the blocked direct convolution, Winograd) on synthetic
/// operands of the layer's shapes, each as a one-op graph on an executor with the threads the
/// model runs with. The winner is remembered in the tuning cache under point
/// `conv2d-algorithm`, the input and weight shapes and the stride, padding and epilogue
/// (`s1x1p1x1-res-relu`), and shows in `--profile`'s kernel choices. A layer a 2x2 max
/// pooling alone reads (`-pool2`) is timed with it: blocked with the pooling in its store
/// against the others with the pooling after.
/// What is timed is what the layer costs in a blocked network, run after run: the weights
/// (packed or transformed, as the graph computes them once) are parameters, copied into the
/// executor once, not at every run as a feed would be (a 512x512x3x3 layer's Winograd weights
/// are 38 MB: copying them made Winograd look four times slower than it runs); the input, and
/// the residual, arrive blocked, so an im2col layer pays its reorders out of and back into the
/// blocked layout, as it does between blocked neighbours.
/// With `--tune off` the tuner picks the first candidate, the blocked convolution.
public enum ConvolutionTuning {
    /// A chooser timing candidates with `tuner` (nil: `Tuner.shared` when asked) on executors
    /// given `threads` (`ExecutionOptions.threads`, as the model's executor is).
    public static func chooser(tuner: Tuner? = nil, threads: Int?) -> ConvolutionChooser {
        { layer, candidates in
            choose(layer, candidates: candidates, tuner: tuner ?? .shared, threads: threads)
        }
    }

    public static func choose(_ layer: ConvolutionLayer, candidates: [ConvolutionAlgorithm], tuner: Tuner, threads: Int?) -> ConvolutionAlgorithm {
        guard let first = candidates.first else { return .blocked }
        let key = self.key(layer, threads: threads)
        var runs: [ConvolutionAlgorithm: () -> Void] = [:]
        let name = tuner.choose(key, variants: candidates.map(\.rawValue)) { name in
            guard let algorithm = ConvolutionAlgorithm(rawValue: name) else { return .infinity }
            if runs[algorithm] == nil {
                guard let run = try? measuredRun(layer, algorithm, tuner: tuner, threads: threads) else { return .infinity }
                runs[algorithm] = run
            }
            guard let run = runs[algorithm] else { return .infinity }
            let start = Tuner.now()
            run()
            return Tuner.now() - start
        }
        return ConvolutionAlgorithm(rawValue: name) ?? first
    }

    /// What the choice for `layer` is remembered under: point `conv2d-algorithm`, the input and
    /// weight shapes, `detail(layer)` and the threads.
    public static func key(_ layer: ConvolutionLayer, threads: Int?, point: String = "conv2d-algorithm", detail extra: String = "") -> TuningKey {
        TuningKey(point: point, shapes: [[layer.batch, layer.inChannels, layer.height, layer.width],
                                         [layer.outChannels, layer.inChannels] + layer.kernel],
                  detail: detail(layer) + extra, threads: max(threads ?? 1, 1))
    }

    /// The algorithm with the best median after the winner's when `layer` was timed alone in
    /// this process, its time over the winner's, and the winner's seconds, if it took at most
    /// `margin` (a fraction) longer; nil when it did not, or when the choice was read from the
    /// cache or fixed (one measured on a busy machine was timed here too: its close call is
    /// confirmed as well). A challenger that won the rounds but not its confirmation against the
    /// default (`Tuner.confirmedRatio`) has a median below the winner's: a close call too.
    public static func closeRunnerUp(_ layer: ConvolutionLayer, winner: ConvolutionAlgorithm, tuner: Tuner, threads: Int?,
                                     margin: Double) -> (algorithm: ConvolutionAlgorithm, ratio: Double, seconds: Double)? {
        let key = self.key(layer, threads: threads)
        guard let d = tuner.decisions.first(where: { $0.key == key }), d.source == .measured || d.source == .measuredBusy,
              let best = d.seconds.first(where: { $0.variant == winner.rawValue })?.seconds, best.isFinite,
              let second = d.seconds.filter({ $0.variant != winner.rawValue && $0.seconds.isFinite }).min(by: { $0.seconds < $1.seconds }),
              second.seconds <= best * (1 + margin), let algorithm = ConvolutionAlgorithm(rawValue: second.variant) else { return nil }
        return (algorithm, second.seconds / max(best, 1e-12), best)
    }

    /// `s<stride>p<padding>`, then `-res` for a residual add, `-relu`, and `-pool2` for a 2x2
    /// max pooling after (a key's detail has no spaces).
    public static func detail(_ layer: ConvolutionLayer) -> String {
        "s" + layer.stride.map(String.init).joined(separator: "x") + "p" + layer.padding.map(String.init).joined(separator: "x")
            + (layer.residual ? "-res" : "") + (layer.relu ? "-relu" : "") + (layer.pool ? "-pool2" : "")
    }

    /// One run of `algorithm` for `layer` on an executor of its own, its operands fed once.
    static func measuredRun(_ layer: ConvolutionLayer, _ algorithm: ConvolutionAlgorithm, tuner: Tuner, threads: Int?) throws -> () -> Void {
        let (graph, feeds, store) = try graph(layer, algorithm)
        let executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: threads, tuner: tuner))
        return { _ = try? executor.execute(feeds: feeds, parameters: store) }
    }

    /// The layer as a graph of `algorithm`'s ops, its synthetic feeds (the input and the
    /// residual) and parameters (the weights, in the form the kernel reads, and the per-channel
    /// vectors): small values, no zeros or denormals, which some units run slower. An operand
    /// larger than `MemoryBudget` (a batch from a flag, such as `--bench-eval-batch`) throws
    /// before it is allocated.
    static func graph(_ layer: ConvolutionLayer, _ algorithm: ConvolutionAlgorithm) throws -> (Graph, [String: HostTensor], ParameterStore) {
        let b = GraphBuilder(name: "conv2d-\(algorithm.rawValue)")
        var feeds: [String: HostTensor] = [:]
        let store = ParameterStore()
        func operand(_ name: String, _ shape: [Int]) throws -> HostTensor {
            try MemoryBudget.check(MemoryBudget.bytes(elements: shape, byteSize: MemoryLayout<Float>.size),
                                   for: "timing convolution \(layer): operand \(name) \(shape)")
            let count = shape.reduce(1, *)
            return HostTensor(shape: shape, floats: (0..<count).map { Float($0 % 17 + 1) * 0.01 })
        }
        func input(_ name: String, _ shape: [Int]) throws -> Value {
            feeds[name] = try operand(name, shape)
            return b.input(name, TensorType(.f32, Shape(known: shape)))
        }
        func weight(_ name: String, _ shape: [Int]) throws -> Value {
            store.set(name, try operand(name, shape))
            return b.parameter(name, TensorType(.f32, Shape(known: shape)), initializer: [:])
        }
        let n = layer.batch, c = layer.inChannels, o = layer.outChannels, kh = layer.kernel[0], kw = layer.kernel[1]
        let padding = layer.padding.count == 2 ? layer.padding : [0, 0], stride = layer.stride.count == 2 ? layer.stride : [1, 1]
        let oh = (layer.height + 2 * padding[0] - kh) / stride[0] + 1, ow = (layer.width + 2 * padding[1] - kw) / stride[1] + 1
        let window: Attributes = ["stride": .ints(stride), "padding": .ints(padding)]
        var attributes = window
        attributes["activation"] = .string(layer.relu ? "relu" : "none")
        let blocks = c / channelBlock, outBlocks = o / channelBlock
        // With `layer.pool`, the 2x2 max pooling: in the blocked store, else an op after.
        let pooling: Attributes = ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0])]
        func pooled(_ v: Value, _ op: OpDef) throws -> Value { layer.pool ? try b.emit(op, [v], pooling) : v }
        let y: Value
        // An image's few channels arrive as they are; more arrive blocked, from a blocked layer.
        let blockedInput = c % channelBlock == 0
        let x = try blockedInput ? input("x", [n, blocks, layer.height, layer.width, channelBlock]) : input("x", [n, c, layer.height, layer.width])
        let residual = try layer.residual ? input("residual", [n, outBlocks, oh, ow, channelBlock]) : nil
        switch algorithm {
        case .blocked:
            let ib = blockedInput ? channelBlock : 1
            let ins = try [x, weight("w", [outBlocks, c / ib, kh, kw, ib, channelBlock]), weight("scale", [o]), weight("shift", [o])]
            y = try b.emit(layer.pool && !layer.residual ? .blockedConv2dMaxpool : .blockedConv2d, ins + (residual.map { [$0] } ?? []), attributes)
        case .winograd:
            let ins = try [x, weight("u", [winogradPoints, outBlocks, c, channelBlock]), weight("scale", [o]), weight("shift", [o])]
            y = try pooled(try b.emit(.winogradConv2d, ins + (residual.map { [$0] } ?? []), attributes), .blockedMaxpool2d)
        case .im2col:
            // Out of the blocked layout and back, as `blocked-layout` reorders around such a layer.
            var plainWindow = window
            plainWindow[.convolutionForm] = ConvolutionForm.im2col.rawValue
            let plainX = blockedInput ? try b.emit(.reorderFromBlocked, [x]) : x
            var v = try b.emit(.conv2d, [plainX, weight("w", [o, c, kh, kw])], plainWindow)
            v = try b.emit(.batchNorm, [v, weight("gamma", [o]), weight("beta", [o]), weight("mean", [o]), weight("var", [o])], ["eps": .float(1e-5)])
            if let r = residual { v = try b.emit(.add, [v, try b.emit(.reorderFromBlocked, [r])]) }
            y = try b.emit(.reorderToBlocked, [try pooled(layer.relu ? try b.emit(.relu, [v]) : v, .maxpool2d)])
        }
        b.outputs = [("y", y)]
        return (b.finish(), feeds, store)
    }
}
