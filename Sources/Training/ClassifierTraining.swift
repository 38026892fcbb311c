import Datasets
import Distributed
import Foundation
import GraphIR
import Passes
import Reports
import Runtime

/// Q2: trains an image classifier (inputs `image` and `label`, first output the class
/// log-probabilities) on Fashion-MNIST with the homework's split, sweeping learning rates,
/// and writes metrics, plots, filters, the best checkpoint and a report.
struct ClassifierTraining {
    let file: String
    let lowered: Graph
    let recipe: Recipe
    let options: TrainingOptions
    let reporter: TrainingReporter
    /// The results folder as the user named it (`options.out` is where this run writes it).
    var shownOut: String? = nil

    /// One configuration's history.
    struct Epoch: Codable {
        var epoch: Int
        var train_loss: Double
        var dev_loss: Double
        var dev_accuracy: Double
        var seconds: Double
        var images_per_second: Double
    }

    struct ConfigResult {
        var name: String
        var learningRate: Float
        var epochs: [Epoch] = []
        var testAccuracy: Double?
        var parameters: ParameterStore
        /// Set when training stopped on a NaN or an infinity (the epochs before it are kept).
        var diverged: TrainingDiverged?
    }

    func run() throws {
        let (forward, training) = try TrainingJob.compile(lowered, recipe, "training", reporter: reporter)
        try checkInterface(forward)
        let dp = DataParallelRun()
        try dp.checkStart(file: file, batchSize: recipe.batchSize)
        var data = try loadData()
        let fullTrain = data.train.count
        if let n = options.limit { data = data.prefix(n) }
        guard data.train.count > 0, data.dev.count > 0, data.test.count > 0 else { throw RuntimeError("the Fashion-MNIST splits are empty") }
        let splits = "Fashion-MNIST (\(data.train.count) train / \(data.dev.count) dev / \(data.test.count) test)"
        try TrainingJob.checkBatch(recipe.batchSize, examples: data.train.count, of: "training images", limited: data.train.count < fullTrain)
        try dp.checkData([
            ("the data", splits, Hash.words(data.train.images, seed: Hash.words(data.train.labels, seed: Hash.words(data.dev.images, seed: Hash.words(data.test.images))))),
        ])
        let parameters = "\(ParameterCount.report(forward).trainable) parameters"
        let evaluator = try Evaluator(graph: forward, threads: recipe.evalThreads, profile: options.profile)
        evaluator.modelFile = file
        evaluator.unfusedGraph = { [lowered, recipe] in
            var options = recipe.passes
            options.fusion = false
            return try Pipelines.compileForTraining(lowered, PassContext(options: options)).forward
        }
        defer { if options.profile { reporter.log(ProfileReport(executor: evaluator.executor, title: "evaluation batches").text) } }

        if let w = options.weights {
            let what = w == file ? "\(file) (its initializers)" : "\(w) with \(file)"
            reporter.log("graphc: evaluating \(what) on \(splits), \(parameters)\n"
                + TrainingJob.blasLine(threads: recipe.evalThreads))
            let store = ParameterStore()
            try ModelLoading.loadWeights(w, into: store, for: forward)
            try NumericsReport.checkWeights(store, for: forward, source: w)
            let dev = try dp.evaluate(evaluator, data.dev, store)
            let test = try dp.evaluate(evaluator, data.test, store)
            reporter.result(String(format: "dev accuracy %.4f (loss %.4f), test accuracy %.4f (loss %.4f)", dev.accuracy, dev.loss, test.accuracy, test.loss))
            return
        }

        reporter.log("graphc: \(file) on \(splits), \(recipe.epochs) epochs, batch \(recipe.batchSize), \(recipe.optimizer), \(parameters)\n"
            + TrainingJob.blasLine(threads: recipe.threads, evalThreads: recipe.evalThreads))
        var results: [ConfigResult] = []
        for lr in recipe.learningRates {
            results.append(try trainOne(learningRate: lr, training: training, forward: forward, data: data, evaluator: evaluator, dp: dp))
        }
        // The homework picks the configuration with the best validation accuracy after the
        // last epoch; ties go to the earlier (smaller) learning rate in the sweep. A diverged
        // configuration is recorded as such and never chosen; when all diverged, the first
        // one's located error ends the run (the results folder keeps its previous contents).
        let finished = results.indices.filter { results[$0].diverged == nil }
        guard var best = finished.max(by: { (results[$0].epochs.last?.dev_accuracy ?? 0) < (results[$1].epochs.last?.dev_accuracy ?? 0) }) else {
            if let d = results.first?.diverged { throw d.error }
            return
        }
        if let firstBest = finished.first(where: { results[$0].epochs.last?.dev_accuracy == results[best].epochs.last?.dev_accuracy }) { best = firstBest }
        let test = try dp.evaluate(evaluator, data.test, results[best].parameters)
        results[best].testAccuracy = test.accuracy
        reporter.result(String(format: "best: %@ (final dev accuracy %.4f); test accuracy %.4f", results[best].name,
                     results[best].epochs.last?.dev_accuracy ?? 0, test.accuracy))
        // Every rank holds the same weights and numbers; one writes them.
        guard dp.writes else { return }
        try ClassifierReport(file: file, recipe: recipe, forward: forward, results: results, best: best, outDir: options.out).write()
        reporter.result("results written to \(shownOut ?? options.out)/")
    }

    func checkInterface(_ g: Graph) throws {
        guard let image = g.input(named: "image"), g[image].type.dtype == .f32 else {
            throw RuntimeError("\(file): a model trained on .fashionMNIST needs an f32 input named \"image\" shaped [batch, 1, 28, 28]")
        }
        guard let label = g.input(named: "label"), g[label].type.dtype == .i64 else {
            throw RuntimeError("\(file): a model trained on .fashionMNIST needs an int64 input named \"label\" shaped [batch]")
        }
        guard g.outputs.first != nil else { throw RuntimeError("\(file): the model has no output; declare the class log-probabilities with output(...)") }
        // The shape fed: an image read only through its mean is held reduced (reduced-inputs).
        let shape = g[image].fedType.shape.dims.dropFirst().map(\.value)
        guard shape == [1, 28, 28] else {
            throw RuntimeError("\(file): input \"image\" is \(g[image].fedType) but Fashion-MNIST images are [batch, 1, 28, 28]")
        }
    }

    func loadData() throws -> FashionMNIST {
        let path = options.data ?? FashionMNIST.defaultDirectory
        if path.hasSuffix(".npz") { return try FashionMNIST.load(npz: path) }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw RuntimeError("\(path): no Fashion-MNIST folder here (install Debian's dataset-fashion-mnist, or pass --data DIR with the four IDX files, or --data Fashion-MNIST.npz)")
        }
        return try FashionMNIST.load(directory: path)
    }

    func trainOne(learningRate lr: Float, training: Graph, forward: Graph, data: FashionMNIST, evaluator: Evaluator,
                  dp: DataParallelRun = DataParallelRun()) throws -> ConfigResult {
        let name = recipe.configName(learningRate: lr)
        let store = ParameterStore()
        try ModelLoading.initialise(store, for: forward, file: file, seed: recipe.seed)
        var order = BatchOrder(count: data.train.count, batchSize: recipe.batchSize, seed: recipe.seed)
        let tuned = try TrainingJob.tunedTraining(lowered, training, recipe, forward: forward, firstBatch: Batches.feeds(data.train, dp.localBatch(order.batch(0)).indices), reporter: reporter)
        let trainer = try Trainer(graph: tuned, parameters: store, optimizer: recipe.makeOptimizer(learningRate: lr),
                                  gradClip: recipe.gradClip, options: ExecutionOptions(training: true, seed: dp.dropoutSeed(recipe.seed), threads: recipe.threads))
        trainer.fusesUpdates = options.fusesOptimizerStep
        try dp.checkInitialWeights(store)
        var result = ConfigResult(name: name, learningRate: lr, parameters: store)
        let batches = order.batchesPerEpoch
        reporter.log("config \(name): lr \(lr)")
        try TrainingJob.instrument(trainer, firstBatch: Batches.feeds(data.train, dp.localBatch(order.batch(0)).indices),
                                   profile: options.profile, threads: recipe.threads, reporter: reporter)
        dp.communicator?.resetStatistics()
        var steps = 0
        defer {
            if options.profile {
                reporter.log(ProfileReport(executor: trainer.executor, title: "training steps of \(name)" + (trainer.fusedUpdateSummary.map { "; " + $0 } ?? "")).text)
                if let line = dp.profileLine(steps: steps) { reporter.log(line) }
            }
        }
        let stepLosses = try options.stepLosses.flatMap { dp.writes ? try StepLossLog(path: $0, config: name) : nil }
        reporter.begin("lr \(lr)", total: batches * recipe.epochs)
        defer { reporter.end() }
        let checked = CheckedTraining(mode: options.checkNumerics, trainer: trainer, file: file, lowered: lowered, recipe: recipe,
                                      learningRate: lr, inputKind: ["image": "image", "label": "label"])
        do { for epoch in 1...recipe.epochs {
            order.shuffle()
            let start = Date()
            var lossSum = 0.0
            for b in 0..<batches {
                let indices = order.batch(b)
                let (local, share) = dp.localBatch(indices)
                steps += 1
                dp.world.killForTest(atStep: steps)
                dp.setShare(share)
                let loss = dp.globalLoss(try checked.step(feeds: Batches.feeds(data.train, local), epoch: epoch, step: b + 1), share: share)
                stepLosses?.append(loss)
                lossSum += loss
                reporter.stepDone(epoch: epoch, step: b + 1, of: batches, meanLoss: lossSum / Double(b + 1), items: indices.count)
            }
            let seconds = Date().timeIntervalSince(start)
            let dev = try dp.evaluate(evaluator, data.dev, store)
            let e = Epoch(epoch: epoch, train_loss: lossSum / Double(batches), dev_loss: dev.loss, dev_accuracy: dev.accuracy,
                          seconds: seconds, images_per_second: Double(data.train.count) / seconds)
            result.epochs.append(e)
            reporter.log(String(format: "epoch %2d  train loss %.4f  dev loss %.4f  dev accuracy %.4f  %.1f s  %.0f images/s",
                                epoch, e.train_loss, e.dev_loss, e.dev_accuracy, seconds, e.images_per_second))
        } } catch let d as TrainingDiverged {
            if recipe.learningRates.count > 1 { reporter.log("config \(name) diverged: \(d.summary)") }
            result.diverged = d
        }
        return result
    }
}
