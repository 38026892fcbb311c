import GraphIR
import Passes
import Runtime

/// What a training run does besides the recipe: where its data and results are, what it
/// measures, how captions are decoded. The command line fills it from its flags.
public struct TrainingOptions {
    /// Results folder.
    public var out: String
    /// Per-op timing of the training steps and evaluation batches, logged when they end.
    public var profile: Bool
    /// Let plain SGD update weights inside the backward (`Trainer.fusesUpdates`).
    public var fusesOptimizerStep = true
    /// How the model is compiled: the speed-up passes on or off, `verifyEach`, and the
    /// dropout rate that replaces every Dropout layer's p (nil: the model's
    /// `train(dropout:)`, else each layer's own). Each compilation's pass statistics go to
    /// the reporter (`TrainingReporter.compiled`).
    public var passes: PassOptions
    /// The data folder (or, for Fashion-MNIST, an .npz file); nil reads the task's default place.
    public var data: String?
    /// Use only the first `limit` training captions (Fashion-MNIST: training images) and the
    /// first `limit` val/dev and test images, for quick runs.
    public var limit: Int?
    /// An HDF5 features file for caption training; nil computes them once into `cache`.
    public var features: String?
    /// Where caption training caches the features it computes (never inside the data folder).
    public var cache: String
    /// Beam width for decoding captions (1 = greedy, as the homework).
    public var beam: Int
    /// A checkpoint to evaluate on the dev and test sets instead of training.
    public var weights: String?
    /// What to do with an unreadable image when computing features.
    public var onBadImage: FeatureExtraction.BadImagePolicy
    /// When training steps are checked op by op for NaN and infinity (`--check-numerics`).
    public var checkNumerics: NumericsCheckMode = .auto
    /// A file to write every training step's loss to, one per line (`--step-losses`): what
    /// the data-parallel tests compare between 1 and N ranks.
    public var stepLosses: String? = nil
    /// The data set, label input and loss of an ONNX model, which declares none.
    public var onnx = ONNXTask()

    public init(out: String = "results", profile: Bool = false, passes: PassOptions = PassOptions(), data: String? = nil, limit: Int? = nil,
                features: String? = nil, cache: String = ".graphc-cache", beam: Int = 1, weights: String? = nil,
                onBadImage: FeatureExtraction.BadImagePolicy = .stop, stepLosses: String? = nil, onnx: ONNXTask = ONNXTask()) {
        self.stepLosses = stepLosses
        self.onnx = onnx
        self.out = out
        self.profile = profile
        self.passes = passes
        self.data = data
        self.limit = limit
        self.features = features
        self.cache = cache
        self.beam = beam
        self.weights = weights
        self.onBadImage = onBadImage
    }
}

/// Settings that replace the model's `train(...)` declaration in a `Recipe`; nil keeps the
/// model's own (or the default when the model names none).
public struct RecipeOverrides {
    public var epochs: Int?
    public var batchSize: Int?
    /// One run per learning rate (a sweep); the best by final dev accuracy is kept.
    public var learningRates: [Float]?
    /// "sgd" or "adam".
    public var optimizer: String?
    public var momentum: Float?
    /// L2 weight decay, applied by the optimiser.
    public var weightDecay: Float?
    /// Clamp every gradient value to ±gradClip before the update.
    public var gradClip: Float?
    public var seed: UInt64?
    /// Kernel threads for training steps, and for evaluation batches unless `evalThreads` is set.
    public var threads: Int?
    public var evalThreads: Int?

    public init(epochs: Int? = nil, batchSize: Int? = nil, learningRates: [Float]? = nil, optimizer: String? = nil,
                momentum: Float? = nil, weightDecay: Float? = nil, gradClip: Float? = nil,
                seed: UInt64? = nil, threads: Int? = nil, evalThreads: Int? = nil) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRates = learningRates
        self.optimizer = optimizer
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.gradClip = gradClip
        self.seed = seed
        self.threads = threads
        self.evalThreads = evalThreads
    }
}

extension RecipeOverrides {
    /// Refuses a value its setting's rule (`TrainingSettings`) does not allow, naming the flag:
    /// the command line checks its flags through here, and library callers get the same rules.
    public func check() throws {
        // Through the shortest decimal, so -0.1 as a Float is shown as -0.1.
        func number(_ f: Float) -> Attribute { .float(Double(String(f)) ?? Double(f)) }
        func verify(_ s: TrainingSetting, _ v: Attribute?) throws {
            if let v, let problem = s.problem(with: v) { throw RuntimeError("\(s.flag ?? s.key) \(problem)") }
        }
        try verify(TrainingSettings.epochs, epochs.map { .int($0) })
        try verify(TrainingSettings.batchSize, batchSize.map { .int($0) })
        for rate in learningRates ?? [] { try verify(TrainingSettings.learningRate, number(rate)) }
        if let rates = learningRates, let repeated = LearningRateSweep.repeated(rates) {
            throw RuntimeError("--lr gives \(repeated) twice: each run of a sweep needs its own rate")
        }
        try verify(TrainingSettings.optimizer, optimizer.map { .string($0) })
        try verify(TrainingSettings.momentum, momentum.map(number))
        try verify(TrainingSettings.weightDecay, weightDecay.map(number))
        try verify(TrainingSettings.gradClip, gradClip.map(number))
        for (flag, t) in [("--threads", threads), ("--eval-threads", evalThreads)] {
            if let t, !(1...256).contains(t) { throw RuntimeError("\(flag) must be an integer between 1 and 256, got \(t)") }
        }
    }
}

/// The learning rates of a sweep, each one run.
public enum LearningRateSweep {
    /// The first rate given twice (`0.01,0.010` name one rate twice), or nil.
    public static func repeated(_ rates: [Float]) -> Float? {
        var seen = Set<Float>()
        for r in rates where !seen.insert(r).inserted { return r }
        return nil
    }
}
