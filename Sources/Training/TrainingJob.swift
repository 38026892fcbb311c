import Distributed
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
        // Under mpirun with several ranks: the training graph exchanges its gradients, and
        // rank 0 alone speaks (every rank computes the same numbers).
        var options = options
        var reporter = reporter
        if World.shared.isDistributed {
            options.passes.dataParallel = true
            if World.shared.rank != 0 { reporter = SilentReporter() }
        }
        let lowered = try ModelLoading.load(file, options: FrontendOptions(mode: .train), task: options.onnx)
        let recipe = try Recipe(graph: lowered, overrides: overrides, passes: options.passes)
        try checkPlaces(options, dataset: recipe.dataset)
        // The results go to a fresh folder swapped in at the end, locked meanwhile (an
        // evaluation of a classifier writes nothing there). Under mpirun only rank 0 writes,
        // so only it takes the folder's lock.
        let writes = (recipe.dataset == "sydneyCaptions" || options.weights == nil) && World.shared.rank == 0
        let results = writes ? try ResultsFolder(options.out) : nil
        defer { results?.discard() }
        for note in results?.notes ?? [] { reporter.log("note: " + note) }
        var staged = options
        if let r = results { staged.out = r.staging }
        switch recipe.dataset {
        case "fashionMNIST":
            try ClassifierTraining(file: file, lowered: lowered, recipe: recipe, options: staged, reporter: reporter, shownOut: options.out).run()
            try results?.commit()
        case "sydneyCaptions":
            try CaptioningTraining(file: file, lowered: lowered, recipe: recipe, options: staged, reporter: reporter, shownOut: options.out).run()
            try results?.commit()
        case "":
            if ModelLoading.isONNX(file) { throw RuntimeError("\(file): an ONNX model declares no training data: give --dataset fashion-mnist") }
            throw RuntimeError("\(file): the model declares no training data: add `train(on: .fashionMNIST, ...)`")
        default:
            throw RuntimeError("\(file): training on .\(recipe.dataset) is not supported (supported: .fashionMNIST, .sydneyCaptions)")
        }
    }

    /// Makes the results folder and writes a probe file into it, so a folder that cannot be
    /// written fails now rather than after hours of training.
    static func checkWritable(folder: String, flag: String = "--out", what: String = "results folder") throws {
        let fm = FileManager.default
        var isFolder: ObjCBool = false
        if fm.fileExists(atPath: folder, isDirectory: &isFolder), !isFolder.boolValue {
            throw RuntimeError("\(flag) \(folder): is a file, not a folder; give a \(what) (an existing folder or a new name)")
        }
        do { try fm.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            throw RuntimeError("\(flag) \(folder): cannot create the \(what) (\(error.localizedDescription))")
        }
        let probe = (folder as NSString).appendingPathComponent(".graphc-write-check-\(getpid())")
        guard fm.createFile(atPath: probe, contents: Data()) else {
            throw RuntimeError("\(flag) \(folder): the \(what) is not writable")
        }
        try? fm.removeItem(atPath: probe)
    }

    /// Checks the folders a run writes before any work starts (feature extraction alone can
    /// take minutes): the results folder, outside the data folder, and for caption training
    /// without `--features` the features cache; each must be a folder that can be written.
    static func checkPlaces(_ options: TrainingOptions, dataset: String) throws {
        if let data = options.data, isInside(options.out, data) {
            throw RuntimeError("--out \(options.out) is inside the data folder \(data); choose a results folder outside it")
        }
        // The weights to evaluate are read after the data and features are loaded (which
        // can take minutes): a missing or unreadable file is refused first.
        if let w = options.weights, let problem = InputFile.problem(w) { throw RuntimeError("--weights \(w): \(problem)") }
        if let f = options.features, let problem = InputFile.problem(f) { throw RuntimeError("--features \(f): \(problem)") }
        try checkWritable(folder: options.out)
        if dataset == "sydneyCaptions" && options.features == nil {
            if let data = options.data { try CaptioningFeatures.checkOutside(cache: options.cache, data: data) }
            try checkWritable(folder: options.cache, flag: "--cache", what: "features cache folder")
        }
    }

    /// Whether `path` is `folder` or inside it, symbolic links resolved.
    static func isInside(_ path: String, _ folder: String) -> Bool {
        let p = URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
        let f = URL(fileURLWithPath: folder).standardizedFileURL.resolvingSymlinksInPath().path
        return p == f || p.hasPrefix(f.hasSuffix("/") ? f : f + "/")
    }

    /// The forward graph and the training graph (`TunedCompilation.training`: the forward
    /// graph's convolutions chosen by the tuner for `evalBatch` images on the recipe's
    /// evaluation threads) with the recipe's pass options, their pass statistics reported as `label`.
    static func compile(_ lowered: Graph, _ recipe: Recipe, _ label: String, evalBatch: Int = Evaluator.batchSize,
                        reporter: TrainingReporter) throws -> (forward: Graph, training: Graph) {
        let context = PassContext(options: recipe.passes)
        let graphs = try TunedCompilation.training(lowered, context, evalThreads: recipe.evalThreads, evalBatch: evalBatch)
        reporter.compiled(label, context)
        return graphs
    }

    /// `training`, or with `--tune` and a fusion measured slower on this machine for these
    /// shapes, the graph compiled without it (`FusionTuning`). Given a graph to initialise
    /// parameters from (`forward`, the lowered graph will do), the step's thin products (its
    /// dense input gradients) are then split as measured too, with the recipe's optimiser
    /// (`FusionTuning.chooseInputGradientSplit`), except in a data-parallel job, whose ranks
    /// would measure differently.
    static func tunedTraining(_ lowered: Graph, _ training: Graph, _ recipe: Recipe, forward: Graph? = nil,
                              firstBatch: [String: HostTensor], reporter: TrainingReporter) throws -> Graph {
        let update = FusionTuning.TimingUpdate(gradClip: recipe.gradClip) { recipe.makeOptimizer(learningRate: 1e-6) }
        let chosen = try FusionTuning.choose(lowered, options: recipe.passes, step: .train, feeds: firstBatch, threads: recipe.threads,
                                             seed: recipe.seed, update: update, reporter: reporter)
        var tunedGraph = training
        if chosen.fusion != recipe.passes.fusion || !chosen.disabledFusions.isEmpty {
            var tuned = recipe
            tuned.passes = chosen
            tunedGraph = try compile(lowered, tuned, "training (fusion as tuned)", reporter: reporter).training
        }
        if let forward, !recipe.passes.dataParallel {
            try FusionTuning.chooseInputGradientSplit(forward: forward, training: tunedGraph, feeds: firstBatch, threads: recipe.threads,
                                                      seed: recipe.seed, update: update)
        }
        return tunedGraph
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
        var s = "OpenBLAS core \(BLASInfo.coreName), kernels \(VectorISA.current), \(threads) thread\(threads == 1 ? "" : "s")"
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
