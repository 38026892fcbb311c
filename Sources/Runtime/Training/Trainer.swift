import GraphIR

/// Runs optimisation steps of a compiled training graph: the graph computes the loss and a
/// `grad:<name>` output per trainable parameter (the autodiff pass made them); the trainer
/// clips them if asked and lets the optimiser update the shared `ParameterStore`.
public final class Trainer {
    public let graph: Graph
    public let parameters: ParameterStore
    public let optimizer: Optimizer
    /// Each gradient value is clamped to ±gradClip before the update (nil: no clipping).
    public var gradClip: Float?
    /// Trainable parameters in graph order: the optimiser slot is the index here.
    public let trainable: [String]
    private let executor: Executor

    public init(graph: Graph, parameters: ParameterStore, optimizer: Optimizer, gradClip: Float? = nil,
                options: ExecutionOptions) throws {
        guard graph.loss != nil else { throw RuntimeError("the training graph has no loss") }
        self.graph = graph
        self.parameters = parameters
        self.optimizer = optimizer
        self.gradClip = gradClip
        let outputNames = Set(graph.outputs.map(\.name))
        trainable = graph.parameters.compactMap { graph[$0].name }.filter { outputNames.contains(Trainer.gradientName($0)) }
        guard !trainable.isEmpty else { throw RuntimeError("the training graph has no gradient outputs: nothing to train") }
        var opts = options
        opts.training = true
        executor = try Executor(graph: graph, options: opts)
    }

    public static func gradientName(_ parameter: String) -> String { "grad:" + parameter }

    /// One step on one batch: forward, backward, clip, update. Returns the batch loss.
    @discardableResult
    public func step(feeds: [String: HostTensor]) throws -> Float {
        var out = try executor.run(feeds: feeds, parameters: parameters)
        guard let loss = out["loss"]?.scalar else { throw RuntimeError("the training graph produced no loss") }
        guard loss.isFinite else { throw RuntimeError("the loss is \(loss): training diverged (try a smaller learning rate)") }
        for (slot, name) in trainable.enumerated() {
            guard case .f32(var g)? = out.removeValue(forKey: Trainer.gradientName(name))?.storage else {
                throw RuntimeError("missing gradient for '\(name)'")
            }
            let ok = g.withUnsafeMutableBufferPointer { gb -> Bool in
                if let c = gradClip { clipGradientValues(gb, clip: c) }
                return parameters.update(name) { values in
                    values.withUnsafeMutableBufferPointer { pb in
                        optimizer.update(slot: slot, parameter: pb, gradient: UnsafeBufferPointer(gb))
                    }
                }
            }
            guard ok else { throw RuntimeError("parameter '\(name)' is missing from the store or is not f32") }
        }
        optimizer.finishStep()
        return loss
    }

    /// Seeds the dropout generator (for reproducible runs).
    public func reseed(_ seed: UInt64) { executor.reseed(seed) }
}
