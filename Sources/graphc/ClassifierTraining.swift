import Datasets
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
    let command: Graphc

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
    }

    func run() throws {
        let (forward, training) = try Training.compile(lowered, dropout: recipe.dropout, fusion: command.fusion != "off")
        try checkInterface(forward)
        let data = try loadData()
        guard data.train.count > 0, data.dev.count > 0, data.test.count > 0 else { throw RuntimeError("the Fashion-MNIST splits are empty") }
        let splits = "Fashion-MNIST (\(data.train.count) train / \(data.dev.count) dev / \(data.test.count) test)"
        let parameters = "\(ParameterCount.report(forward).trainable) parameters"
        let evaluator = try Evaluator(graph: forward, threads: recipe.evalThreads, profile: command.profile)
        defer { if command.profile { Training.banner(ProfileReport(executor: evaluator.executor, title: "evaluation batches").text) } }

        if command.eval {
            guard let w = command.weights else { throw RuntimeError("--eval needs --weights FILE") }
            Training.banner("graphc: evaluating \(w) with \(file) on \(splits), \(parameters)\n"
                + Training.blasLine(threads: recipe.evalThreads))
            let store = ParameterStore()
            try store.load(from: w, for: forward)
            let dev = try evaluator.evaluate(data.dev, store)
            let test = try evaluator.evaluate(data.test, store)
            print(String(format: "dev accuracy %.4f (loss %.4f), test accuracy %.4f (loss %.4f)", dev.accuracy, dev.loss, test.accuracy, test.loss))
            return
        }

        Training.banner("graphc: \(file) on \(splits), \(recipe.epochs) epochs, batch \(recipe.batchSize), \(recipe.optimizer), \(parameters)\n"
            + Training.blasLine(threads: recipe.threads, evalThreads: recipe.evalThreads))
        var results: [ConfigResult] = []
        for lr in recipe.learningRates {
            results.append(try trainOne(learningRate: lr, training: training, forward: forward, data: data, evaluator: evaluator))
        }
        // The homework picks the configuration with the best validation accuracy after the
        // last epoch; ties go to the earlier (smaller) learning rate in the sweep.
        guard var best = results.indices.max(by: { (results[$0].epochs.last?.dev_accuracy ?? 0) < (results[$1].epochs.last?.dev_accuracy ?? 0) }) else { return }
        if let firstBest = results.indices.first(where: { results[$0].epochs.last?.dev_accuracy == results[best].epochs.last?.dev_accuracy }) { best = firstBest }
        let test = try evaluator.evaluate(data.test, results[best].parameters)
        results[best].testAccuracy = test.accuracy
        print(String(format: "best: %@ (final dev accuracy %.4f); test accuracy %.4f", results[best].name,
                     results[best].epochs.last?.dev_accuracy ?? 0, test.accuracy))
        try ClassifierReport(file: file, recipe: recipe, forward: forward, results: results, best: best, outDir: command.out).write()
        print("results written to \(command.out)/")
    }

    func checkInterface(_ g: Graph) throws {
        guard let image = g.input(named: "image"), g[image].type.dtype == .f32 else {
            throw RuntimeError("\(file): a model trained on .fashionMNIST needs an f32 input named \"image\" shaped [batch, 1, 28, 28]")
        }
        guard let label = g.input(named: "label"), g[label].type.dtype == .i64 else {
            throw RuntimeError("\(file): a model trained on .fashionMNIST needs an int64 input named \"label\" shaped [batch]")
        }
        guard g.outputs.first != nil else { throw RuntimeError("\(file): the model has no output; declare the class log-probabilities with output(...)") }
        let shape = g[image].type.shape.dims.dropFirst().map(\.value)
        guard shape == [1, 28, 28] else {
            throw RuntimeError("\(file): input \"image\" is \(g[image].type) but Fashion-MNIST images are [batch, 1, 28, 28]")
        }
    }

    func loadData() throws -> FashionMNIST {
        let path = command.data ?? FashionMNIST.defaultDirectory
        if path.hasSuffix(".npz") { return try FashionMNIST.load(npz: path) }
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw RuntimeError("\(path): no Fashion-MNIST folder here (install Debian's dataset-fashion-mnist, or pass --data DIR with the four IDX files, or --data Fashion-MNIST.npz)")
        }
        return try FashionMNIST.load(directory: path)
    }

    func trainOne(learningRate lr: Float, training: Graph, forward: Graph, data: FashionMNIST, evaluator: Evaluator) throws -> ConfigResult {
        let name = recipe.configName(learningRate: lr)
        let store = ParameterStore()
        try store.initialise(from: forward, seed: recipe.seed)
        let trainer = try Trainer(graph: training, parameters: store, optimizer: recipe.makeOptimizer(learningRate: lr),
                                  gradClip: recipe.gradClip, options: ExecutionOptions(training: true, seed: recipe.seed, threads: recipe.threads))
        var result = ConfigResult(name: name, learningRate: lr, parameters: store)
        let shuffler = RandomSource(seed: recipe.seed &+ 1)
        var order = Array(0..<data.train.count)
        let batches = (order.count + recipe.batchSize - 1) / recipe.batchSize
        let progress = Progress(total: batches * recipe.epochs, label: "lr \(lr)")
        Training.banner("config \(name): lr \(lr)")
        try Training.instrument(trainer, firstBatch: Batches.feeds(data.train, order.prefix(recipe.batchSize)),
                                profile: command.profile, threads: recipe.threads)
        defer { if command.profile { Training.banner(ProfileReport(executor: trainer.executor, title: "training steps of \(name)").text) } }
        for epoch in 1...recipe.epochs {
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, shuffler.nextInt(below: i + 1)) }
            let start = Date()
            var lossSum = 0.0
            for b in 0..<batches {
                let indices = order[(b * recipe.batchSize)..<min(order.count, (b + 1) * recipe.batchSize)]
                let loss = try trainer.step(feeds: Batches.feeds(data.train, indices))
                lossSum += Double(loss)
                progress.update(epoch: epoch, step: b + 1, steps: batches, loss: lossSum / Double(b + 1), images: indices.count)
            }
            let seconds = Date().timeIntervalSince(start)
            let dev = try evaluator.evaluate(data.dev, store)
            let e = Epoch(epoch: epoch, train_loss: lossSum / Double(batches), dev_loss: dev.loss, dev_accuracy: dev.accuracy,
                          seconds: seconds, images_per_second: Double(data.train.count) / seconds)
            result.epochs.append(e)
            progress.finishLine(String(format: "epoch %2d  train loss %.4f  dev loss %.4f  dev accuracy %.4f  %.1f s  %.0f images/s",
                                       epoch, e.train_loss, e.dev_loss, e.dev_accuracy, seconds, e.images_per_second))
        }
        return result
    }
}

/// Feeds for one batch of a classification split.
enum Batches {
    static func feeds<C: Collection>(_ split: ImageClassificationSplit, _ indices: C) -> [String: HostTensor] where C.Element == Int {
        let size = split.imageSize
        var images = [Float](repeating: 0, count: indices.count * size)
        var labels = [Int64](repeating: 0, count: indices.count)
        split.images.withUnsafeBufferPointer { src in
            images.withUnsafeMutableBufferPointer { dst in
                guard let from = src.baseAddress, let to = dst.baseAddress else { return }
                for (row, i) in indices.enumerated() {
                    to.advanced(by: row * size).update(from: from.advanced(by: i * size), count: size)
                    labels[row] = split.labels[i]
                }
            }
        }
        return ["image": HostTensor(shape: [indices.count] + split.imageShape, floats: images),
                "label": HostTensor(shape: [indices.count], ints: labels)]
    }
}

/// Accuracy and mean loss of the forward graph over a whole split, dropout off.
final class Evaluator {
    let executor: Executor
    let output: String
    let batchSize = 1024

    init(graph: Graph, threads: Int, profile: Bool = false) throws {
        executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: threads), planner: BufferPlan.lifetimes)
        output = graph.outputs[0].name
        executor.measuresTime = profile
    }

    func evaluate(_ split: ImageClassificationSplit, _ store: ParameterStore) throws -> (accuracy: Double, loss: Double) {
        var correct = 0
        var lossSum = 0.0
        var start = 0
        while start < split.count {
            let end = min(split.count, start + batchSize)
            let out = try executor.run(feeds: Batches.feeds(split, start..<end), parameters: store)
            guard let scores = out[output], scores.shape.count == 2 else { throw RuntimeError("the model's output is not [batch, classes]") }
            let classes = scores.shape[1]
            let s = scores.floats
            for row in 0..<(end - start) {
                var bestClass = 0
                for c in 1..<classes where s[row * classes + c] > s[row * classes + bestClass] { bestClass = c }
                if Int64(bestClass) == split.labels[start + row] { correct += 1 }
            }
            lossSum += Double(out["loss"]?.scalar ?? .nan) * Double(end - start)
            start = end
        }
        return (Double(correct) / Double(max(split.count, 1)), lossSum / Double(max(split.count, 1)))
    }
}
