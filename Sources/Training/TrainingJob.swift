import Foundation
import Frontend
import GraphIR
import Passes
import Runtime

/// Training and evaluation of a model file: compile it, then hand it to the task its
/// `train(on:)` declaration names (Fashion-MNIST classification, Sydney-Captions captioning).
public enum TrainingJob {
    /// Trains the model in `file` (or, with `options.weights`, evaluates those weights) as its
    /// `train(...)` declaration says, with `overrides` taking precedence, writing the results to
    /// `options.out` and its messages to `reporter`.
    public static func run(file: String, overrides: RecipeOverrides = RecipeOverrides(), options: TrainingOptions = TrainingOptions(),
                           reporter: TrainingReporter = SilentReporter()) throws {
        let lowered = try ModelLoading.load(file, options: FrontendOptions(mode: .train))
        let recipe = try Recipe(graph: lowered, overrides: overrides, passes: options.passes)
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

    /// The forward graph and the training graph (`Pipelines.compileForTraining`) with the
    /// recipe's pass options, their pass statistics reported as `label`.
    static func compile(_ lowered: Graph, _ recipe: Recipe, _ label: String, reporter: TrainingReporter) throws -> (forward: Graph, training: Graph) {
        let context = PassContext(options: recipe.passes)
        let graphs = try Pipelines.compileForTraining(lowered, context)
        reporter.compiled(label, context)
        return graphs
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

extension TrainingJob {
    /// Refuses a batch larger than the training split (every step would be the whole split,
    /// not the batch asked for), with the numbers. Under `--limit` the split is cut short on
    /// purpose for a quick run, and the one batch is the whole cut split.
    static func checkBatch(_ batchSize: Int, examples: Int, of what: String, limited: Bool) throws {
        guard limited || batchSize <= examples else {
            throw RuntimeError("batch size \(batchSize) is larger than the \(examples) \(what): give --batch-size \(examples) or less")
        }
    }
}
