#if canImport(Glibc)
import Glibc
#endif
import GraphIR

/// Runs optimisation steps of a compiled training graph: the graph computes the loss and a
/// `grad:<name>` output per trainable parameter (the autodiff pass made them); the trainer
/// clips them if asked and lets the optimiser update the weights.
///
/// Weights and gradients stay in the executor's memory: the optimiser reads each gradient
/// where the graph wrote it and updates the executor's copy of the weight in place, so a
/// step copies no weights or gradients. The `ParameterStore` gets the new values back the
/// first time anyone reads it (an evaluation, a checkpoint), not after every step.
public final class Trainer {
    public let graph: Graph
    public let parameters: ParameterStore
    public let optimizer: Optimizer
    /// Each gradient value is clamped to ±gradClip before the update (nil: no clipping).
    public var gradClip: Float?
    /// Trainable parameters in graph order: the optimiser slot is the index here.
    public let trainable: [String]
    /// The executor running the training graph (for profiles and memory summaries).
    public let executor: Executor
    /// Where the steps' time went while the executor measures time (`--profile`).
    public private(set) var phaseTimes = StepPhaseTimes()
    /// Whether a step may update a weight inside the backward, in the product that makes its
    /// gradient (see `FusedWeightUpdate`): only ever with plain SGD (no momentum, weight decay
    /// or clipping) and without numerics checks, checked every step. The gradient outputs of
    /// the weights so updated are not written in that step.
    public var fusesUpdates = true
    /// The parameters whose update ran fused into their gradient's product in the last step.
    public private(set) var fusedUpdateParameters: [String] = []
    /// "the SGD step ran in the weight gradient of ..." for profiles, or nil when none did.
    public var fusedUpdateSummary: String? {
        guard !fusedUpdateParameters.isEmpty, let fused else { return nil }
        let names = fused.sites.filter { fusedUpdateParameters.contains($0.parameter) }
            .map { site in
                let paired = fused.appliedWithInputGradient[site.slot] ? site.inputGradientNode.map { ", with the input gradient %\($0)" } : nil
                return "\(site.parameter) (%\(site.node) \(graph.nodes[site.node].op.name)" + (paired ?? "") + ")"
            }
        return "SGD step fused into the weight gradient of " + names.joined(separator: ", ")
    }
    /// The fusable parameters, judged after the first run (nil before it, or when none is).
    private var fused: FusedWeightUpdate?
    private var fusedJudged = false

    /// Memory is planned by lifetimes unless another `planner` is given.
    public init(graph: Graph, parameters: ParameterStore, optimizer: Optimizer, gradClip: Float? = nil,
                options: ExecutionOptions, planner: @escaping BufferPlanner = BufferPlan.lifetimes) throws {
        guard graph.loss != nil else { throw RuntimeError("the training graph has no loss") }
        self.graph = graph
        self.parameters = parameters
        self.optimizer = optimizer
        self.gradClip = gradClip
        let outputNames = Set(graph.outputs.map(\.name))
        trainable = graph.parameters.compactMap { graph[$0].name }.filter { outputNames.contains(GradientOutput.name(forParameter: $0)) }
        guard !trainable.isEmpty else { throw RuntimeError("the training graph has no gradient outputs: nothing to train") }
        var opts = options
        opts.training = true
        executor = try Executor(graph: graph, options: opts, planner: planner)
    }

    /// One step on one batch: forward, backward, clip, update. Returns the batch loss.
    /// `written`: feeds written straight into the executor's input memory (`FeedWriter`); their
    /// time counts as the step's data time, as making tensor feeds does (`timingData`).
    @discardableResult
    public func step(feeds: [String: HostTensor], writing written: [String: FeedWriter] = [:]) throws -> Float {
        let timed = executor.measuresTime
        var writing = written
        var writeSeconds = 0.0
        if timed {
            for (name, w) in written {
                // Both ways of writing are timed; a reduced write stays one (`FeedWriter.writeReduced`).
                let reduced = w.writeReduced.map { writeReduced in
                    { [unowned self] (feed: ReducedFeed, p: UnsafeMutableRawPointer, pool: WorkerPool) throws in
                        let start = clock()
                        defer { writeSeconds += clock() - start }
                        try writeReduced(feed, p, pool)
                    }
                }
                writing[name] = FeedWriter(shape: w.shape, dtype: w.dtype, write: { [unowned self] p, pool in
                    let start = clock()
                    defer { writeSeconds += clock() - start }
                    try w.write(p, pool)
                }, writeReduced: reduced)
            }
        }
        let start = timed ? clock() : 0
        let kernelsBefore = timed ? executor.nodeSeconds.reduce(0, +) : 0
        let fusing = fusesUpdates && !executor.checksNumerics && gradClip == nil
            && (optimizer as? SGD).map { $0.momentum == 0 && $0.weightDecay == 0 } == true
        // In place for this step's run only: other runs of the executor compute plain gradients.
        let fusedRun = fusing ? fused : nil
        if let f = fusedRun {
            f.learningRate = optimizer.learningRate
            for i in f.applied.indices { f.applied[i] = false; f.appliedWithInputGradient[i] = false }
            f.install(true, in: executor)
        }
        defer { fusedRun?.install(false, in: executor) }
        try executor.execute(feeds: feeds, writing: writing, parameters: parameters)
        if !fusedJudged {
            fusedJudged = true
            fused = FusedWeightUpdate(executor: executor, trainable: trainable)
        }
        let executed = timed ? clock() : 0
        guard let lossBuffer = executor.outputBuffer(named: "loss"), let loss = lossBuffer.first else {
            throw RuntimeError("the training graph produced no loss")
        }
        guard loss.isFinite else { throw NonFiniteLoss(loss: loss) }
        var tensors: [ParameterUpdate] = []
        tensors.reserveCapacity(trainable.count)
        let applied = fusedRun?.applied
        fusedUpdateParameters = []
        for (slot, name) in trainable.enumerated() {
            if let applied, applied[slot] { fusedUpdateParameters.append(name); continue }
            guard let g = executor.outputBuffer(named: GradientOutput.name(forParameter: name)) else { throw RuntimeError("missing gradient for '\(name)'") }
            guard let p = executor.parameterBuffer(named: name) else {
                throw RuntimeError("parameter '\(name)' is missing from the store or is not f32")
            }
            tensors.append(ParameterUpdate(slot: slot, parameter: p, gradient: g))
        }
        optimizer.update(tensors, clip: gradClip, pool: executor.pool)
        optimizer.finishStep()
        if timed {
            let end = clock()
            phaseTimes.steps += 1
            phaseTimes.run += executed - start - writeSeconds
            phaseTimes.data += writeSeconds
            phaseTimes.kernels += executor.nodeSeconds.reduce(0, +) - kernelsBefore
            phaseTimes.update += end - executed
        }
        executor.noteParametersWritten(to: parameters)
        // With every output checked, the updated weights are too: an update (a huge learning
        // rate or weight decay) is where finite gradients make non-finite weights.
        if executor.checksNumerics {
            for name in trainable {
                guard let p = executor.parameterBuffer(named: name), let base = p.baseAddress, !allFinite(base, p.count) else { continue }
                throw NonFiniteUpdate(parameter: FloatSummary(name: name, shape: parameters.peek(name)?.shape ?? [p.count],
                                                              values: UnsafeBufferPointer(p)))
            }
        }
        return loss
    }

    /// `body` (making a step's feeds), its time counted as the steps' data time while the
    /// executor measures time.
    public func timingData<T>(_ body: () throws -> T) rethrows -> T {
        guard executor.measuresTime else { return try body() }
        let start = clock()
        defer { phaseTimes.data += clock() - start }
        return try body()
    }

    /// Forgets the phase times (with `executor.resetTimes()`, for a profile of later steps).
    public func resetPhaseTimes() { phaseTimes = StepPhaseTimes() }

    /// The clock the executor times its kernels with.
    private func clock() -> Double { executor.measuresThreadTime ? threadSeconds() : monotonicSeconds() }

    /// Seeds the dropout generator (for reproducible runs).
    public func reseed(_ seed: UInt64) { executor.reseed(seed) }

    /// Plans the executor's memory for batches shaped like `feeds` without a step.
    public func prepare(feeds: [String: HostTensor]) throws { try executor.prepare(feeds: feeds) }

    /// The executor's memory plus the optimiser's state, once planned (`prepare` or a step);
    /// before the first step the state is what the optimiser will allocate.
    public var memorySummary: MemorySummary? {
        guard var s = executor.memorySummary else { return nil }
        var weights = 0
        for name in trainable { weights += executor.parameterBuffer(named: name)?.count ?? 0 }
        s.optimizerState = max(optimizer.stateBytes, optimizer.plannedStateBytes(parameterCount: weights))
        return s
    }
}

/// Seconds of the timed steps by phase: the executor's run (its kernels and the rest: feed
/// copies, planning, dispatch between nodes), the update (clipping and the optimiser), and
/// making the feeds (counted by the loop through `Trainer.timingData`).
public struct StepPhaseTimes: Sendable {
    public var steps = 0
    public var run = 0.0
    public var kernels = 0.0
    public var update = 0.0
    public var data = 0.0
    public init() {}
    /// The run's time outside the kernels.
    public var executorOverhead: Double { max(run - kernels, 0) }
}

/// A training step whose loss is NaN or infinite; the weights are those before the step (it
/// made no update), so the step can be run again with every output checked.
public struct NonFiniteLoss: Error, CustomStringConvertible {
    public var loss: Float
    public var description: String { "the loss is \(loss): training diverged" }
}

/// A training step whose update made a weight non-finite from finite gradients.
public struct NonFiniteUpdate: Error, CustomStringConvertible {
    public var parameter: FloatSummary
    public var description: String { "the update made weight \(parameter.description)" }
}
