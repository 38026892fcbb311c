import Foundation
import Frontend
import GraphIR
import Passes
import Runtime

/// The training settings of a run: the model's `train(...)` declaration, overridden by flags.
struct Recipe {
    var dataset: String
    var metric: String
    var epochs: Int
    var batchSize: Int
    var learningRates: [Float]
    var optimizer: String
    var momentum: Float
    var weightDecay: Float
    /// nil keeps each Dropout layer's own p.
    var dropout: Double?
    var gradClip: Float?
    var seed: UInt64
    /// OpenBLAS threads for training steps and for evaluation batches.
    var threads: Int
    var evalThreads: Int

    init(graph g: Graph, command c: Graphc) throws {
        let m = g.metadata
        dataset = m.string("dataset") ?? ""
        metric = m.string("metric") ?? ""
        epochs = c.epochs ?? m.int("epochs") ?? 1
        batchSize = c.batchSize ?? m.int("batch_size") ?? 32
        if let l = c.lr { learningRates = try LearningRates.parse(l) } else { learningRates = [Float(m.float("lr") ?? 0.01)] }
        optimizer = c.optimizer ?? m.string("optimizer") ?? "sgd"
        guard ["sgd", "adam"].contains(optimizer) else { throw RuntimeError("unknown optimizer '\(optimizer)' in the model's train(...): use .sgd or .adam") }
        momentum = c.momentum ?? Float(m.float("momentum") ?? 0)
        weightDecay = c.l2 ?? Float(m.float("weight_decay") ?? 0)
        dropout = c.dropout ?? m.float("dropout")
        gradClip = c.gradClip ?? m.float("grad_clip").map(Float.init)
        seed = c.seed ?? UInt64(max(0, m.int("seed") ?? 0))
        // Without --threads, every core for training and evaluation alike. While OpenBLAS's
        // threads were the only parallelism, batch 8 trained faster on one; with the kernels'
        // worker pool, 2 threads train the CNN at batch 8 1.28-1.40x faster than 1 on a quiet
        // 2-core machine, and 0.9-1.0x as fast when another process holds a core (the caller
        // then runs the chunks itself).
        let cores = BLASInfo.threads
        threads = c.threads ?? cores
        evalThreads = c.evalThreads ?? c.threads ?? cores
    }

    func makeOptimizer(learningRate: Float) -> Optimizer {
        optimizer == "adam"
            ? Adam(learningRate: learningRate, weightDecay: weightDecay)
            : SGD(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
    }

    /// The homework's file stem for a configuration: `{lr}-{dropout}-{l2}-{optimizer}`.
    func configName(learningRate: Float) -> String {
        "\(learningRate)-\(dropout.map { String($0) } ?? "model")-\(weightDecay)-\(optimizer)"
    }
}

/// `--train` and `--eval`: compile the model, then hand it to the task its `train(on:)` names.
enum Training {
    static func run(command c: Graphc) throws {
        let file = c.files[0]
        let lowered = try ModelLoading.load(file, options: FrontendOptions(mode: .train))
        let recipe = try Recipe(graph: lowered, command: c)
        try checkWritable(folder: c.out)
        switch recipe.dataset {
        case "fashionMNIST":
            try ClassifierTraining(file: file, lowered: lowered, recipe: recipe, command: c).run()
        case "sydneyCaptions":
            try CaptioningTraining(file: file, lowered: lowered, recipe: recipe, command: c).run()
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
    static func compile(_ lowered: Graph, dropout: Double?, fusion: Bool = true) throws -> (forward: Graph, training: Graph) {
        try Pipelines.compileForTraining(lowered, PassContext(options: PassOptions(dropout: dropout, fusion: fusion)))
    }

    /// Prepares the trainer on its first batch and prints its memory plan; with `--profile`,
    /// switches on per-node timing (read back with `ProfileReport` when training ends).
    static func instrument(_ trainer: Trainer, firstBatch: [String: HostTensor], profile: Bool, threads: Int) throws {
        try trainer.prepare(feeds: firstBatch)
        if let plan = trainer.memorySummary { banner(plan.description) }
        if profile {
            trainer.executor.startProfiling(threads: threads)
        }
    }

    static func banner(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    static func blasLine(threads: Int, evalThreads: Int? = nil) -> String {
        var s = "OpenBLAS core \(BLASInfo.coreName), \(threads) thread\(threads == 1 ? "" : "s")"
        if let e = evalThreads, e != threads { s += " for training, \(e) for evaluation" }
        if let advice = BLASInfo.advice { s += "\nnote: " + advice }
        return s
    }
}
