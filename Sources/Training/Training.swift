import Foundation
import Frontend
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
    /// nil keeps each Dropout layer's own p.
    public var dropout: Double?
    public var gradClip: Float?
    public var seed: UInt64
    /// OpenBLAS threads for training steps and for evaluation batches.
    public var threads: Int
    public var evalThreads: Int

    public init(graph g: Graph, overrides o: RecipeOverrides = RecipeOverrides()) throws {
        let m = g.metadata
        dataset = m.string("dataset") ?? ""
        metric = m.string("metric") ?? ""
        epochs = o.epochs ?? m.int("epochs") ?? 1
        batchSize = o.batchSize ?? m.int("batch_size") ?? 32
        learningRates = o.learningRates ?? [Float(m.float("lr") ?? 0.01)]
        guard !learningRates.isEmpty else { throw RuntimeError("the recipe needs at least one learning rate") }
        optimizer = o.optimizer ?? m.string("optimizer") ?? "sgd"
        guard ["sgd", "adam"].contains(optimizer) else { throw RuntimeError("unknown optimizer '\(optimizer)' in the model's train(...): use .sgd or .adam") }
        momentum = o.momentum ?? Float(m.float("momentum") ?? 0)
        weightDecay = o.weightDecay ?? Float(m.float("weight_decay") ?? 0)
        dropout = o.dropout ?? m.float("dropout")
        gradClip = o.gradClip ?? m.float("grad_clip").map(Float.init)
        seed = o.seed ?? UInt64(max(0, m.int("seed") ?? 0))
        // Without a thread count, every core for training and evaluation alike: the kernels'
        // worker pool makes two threads faster than one even at batch 8 on a quiet machine,
        // and when another process holds a core the caller runs the chunks itself.
        let cores = BLASInfo.threads
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

/// Training and evaluation of a model file: compile it, then hand it to the task its
/// `train(on:)` declaration names (Fashion-MNIST classification, Sydney-Captions captioning).
public enum Training {
    /// Trains the model in `file` (or, with `options.weights`, evaluates those weights) as its
    /// `train(...)` declaration says, with `overrides` taking precedence, writing the results to
    /// `options.out` and its messages to `reporter`.
    public static func run(file: String, overrides: RecipeOverrides = RecipeOverrides(), options: TrainingOptions = TrainingOptions(),
                           reporter: TrainingReporter = SilentReporter()) throws {
        let lowered = try ModelLoading.load(file, options: FrontendOptions(mode: .train))
        let recipe = try Recipe(graph: lowered, overrides: overrides)
        try checkWritable(folder: options.out)
        switch recipe.dataset {
        case "fashionMNIST":
            try ClassifierTraining(file: file, lowered: lowered, recipe: recipe, options: options, reporter: reporter).run()
        case "sydneyCaptions":
            try CaptioningTraining(file: file, lowered: lowered, recipe: recipe, options: options, reporter: reporter).run()
        case "":
            throw RuntimeError("\(file): the model declares no training data: add `train(on: .fashionMNIST, ...)`")
        default:
            throw RuntimeError("\(file): training on .\(recipe.dataset) is not supported (supported: .fashionMNIST, .sydneyCaptions)")
        }
    }

    /// Makes the results folder and writes a probe file into it, so a folder that cannot be
    /// written fails now rather than after hours of training.
    static func checkWritable(folder: String) throws {
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw RuntimeError("--out \(folder): cannot create the results folder (\(error.localizedDescription))")
        }
        let probe = (folder as NSString).appendingPathComponent(".graphc-write-check-\(getpid())")
        guard fm.createFile(atPath: probe, contents: Data()) else {
            throw RuntimeError("--out \(folder): the results folder is not writable")
        }
        try? fm.removeItem(atPath: probe)
    }

    /// The forward graph and the training graph (`Pipelines.compileForTraining`), with the
    /// dropout override as a pass option.
    public static func compile(_ lowered: Graph, dropout: Double?, fusion: Bool = true) throws -> (forward: Graph, training: Graph) {
        try Pipelines.compileForTraining(lowered, PassContext(options: PassOptions(dropout: dropout, fusion: fusion)))
    }

    /// Prepares the trainer on its first batch and prints its memory plan; with `--profile`,
    /// switches on per-node timing (read back with `ProfileReport` when training ends).
    static func instrument(_ trainer: Trainer, firstBatch: [String: HostTensor], profile: Bool, threads: Int,
                           reporter: TrainingReporter) throws {
        try trainer.prepare(feeds: firstBatch)
        if let plan = trainer.memorySummary { reporter.log(plan.description) }
        if profile {
            trainer.executor.startProfiling(threads: threads)
        }
    }

    public static func blasLine(threads: Int, evalThreads: Int? = nil) -> String {
        var s = "OpenBLAS core \(BLASInfo.coreName), \(threads) thread\(threads == 1 ? "" : "s")"
        if let e = evalThreads, e != threads { s += " for training, \(e) for evaluation" }
        if let advice = BLASInfo.advice { s += "\nnote: " + advice }
        return s
    }
}
