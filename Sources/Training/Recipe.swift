import Distributed
import GraphIR
import Passes
import Runtime

/// The training settings of a run: the model's `train(...)` declaration, with `overrides`
/// (the command line's flags) taking precedence.
public struct Recipe {
    public var dataset: String
    public var metric: String
    public var epochs: Int
    public var batchSize: Int
    public var learningRates: [Float]
    public var optimizer: String
    public var momentum: Float
    public var weightDecay: Float
    /// How the model is compiled for this recipe: the pass options it was given, with the
    /// dropout rate of the model's `train(dropout:)` when they set none.
    public var passes: PassOptions
    /// The rate replacing every Dropout layer's p; nil keeps each layer's own.
    public var dropout: Double? { passes.dropout }
    public var gradClip: Float?
    public var seed: UInt64
    /// Kernel threads (the worker pool's width, OpenBLAS one thread per chunk) for training
    /// steps and for evaluation batches; without a count, `World.threadsPerProcess()`.
    public var threads: Int
    public var evalThreads: Int

    public init(graph g: Graph, overrides o: RecipeOverrides = RecipeOverrides(), passes: PassOptions = PassOptions()) throws {
        let m = g.metadata
        // A graph from the parsers has been checked already; one built in code has not.
        if let problem = TrainingSettings.problem(in: m) { throw RuntimeError("the model's training settings: \(problem)") }
        try o.check()
        dataset = m.string("dataset") ?? ""
        metric = m.string("metric") ?? ""
        epochs = o.epochs ?? m.int("epochs") ?? 1
        batchSize = o.batchSize ?? m.int("batch_size") ?? 32
        learningRates = o.learningRates ?? [Float(m.float("lr") ?? 0.01)]
        guard !learningRates.isEmpty else { throw RuntimeError("the recipe needs at least one learning rate") }
        if let repeated = LearningRateSweep.repeated(learningRates) {
            throw RuntimeError("learning rate \(repeated) is given twice: each run of a sweep needs its own rate")
        }
        optimizer = o.optimizer ?? m.string("optimizer") ?? "sgd"
        momentum = o.momentum ?? Float(m.float("momentum") ?? 0)
        weightDecay = o.weightDecay ?? Float(m.float("weight_decay") ?? 0)
        self.passes = passes
        self.passes.dropout = passes.dropout ?? m.float("dropout")
        gradClip = o.gradClip ?? m.float("grad_clip").map(Float.init)
        seed = o.seed ?? UInt64(max(0, m.int("seed") ?? 0))
        // Without a thread count, every core for training and evaluation alike (shared among
        // a data-parallel job's processes on this host): the kernels' worker pool makes two
        // threads faster than one even at batch 8 on a quiet machine, and when another process
        // holds a core the caller runs the chunks itself.
        let cores = World.threadsPerProcess()
        threads = o.threads ?? cores
        evalThreads = o.evalThreads ?? o.threads ?? cores
    }

    public func makeOptimizer(learningRate: Float) -> Optimizer {
        optimizer == "adam"
            ? Adam(learningRate: learningRate, weightDecay: weightDecay)
            : SGD(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
    }

    /// The homework's file stem for a configuration: `{lr}-{dropout}-{l2}-{optimizer}`.
    public func configName(learningRate: Float) -> String {
        "\(learningRate)-\(dropout.map { String($0) } ?? "model")-\(weightDecay)-\(optimizer)"
    }
}
