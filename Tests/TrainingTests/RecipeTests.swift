import Foundation
import Frontend
import GraphIR
import Passes
import Runtime
import Training
import XCTest

/// The recipe from a model's train(...) declaration and overrides, and the batch order.
final class RecipeTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func cnn() throws -> Graph {
        try ModelLoading.load(Self.repository.appendingPathComponent("graphs/cnn.swiftgraph").path)
    }

    func testTheModelsDeclarationIsTheDefault() throws {
        let r = try Recipe(graph: try cnn())
        XCTAssertEqual(r.dataset, "fashionMNIST")
        XCTAssertEqual([r.epochs, r.batchSize], [15, 8])
        XCTAssertEqual(r.learningRates, [0.01])
        XCTAssertEqual(r.optimizer, "sgd")
        XCTAssertEqual(r.dropout, 0.3)
        XCTAssertEqual(r.seed, 42)
        XCTAssertEqual(r.configName(learningRate: 0.01), "0.01-0.3-0.0-sgd")
    }

    func testOverridesWin() throws {
        let r = try Recipe(graph: try cnn(), overrides: RecipeOverrides(epochs: 2, batchSize: 64, learningRates: [0.1, 0.2], optimizer: "adam",
                                                                     weightDecay: 0.01, seed: 7, threads: 1),
                           passes: PassOptions(dropout: 0, fusion: false))
        XCTAssertEqual([r.epochs, r.batchSize, r.threads, r.evalThreads], [2, 64, 1, 1], "evaluation follows the training threads")
        XCTAssertEqual(r.learningRates, [0.1, 0.2])
        XCTAssertEqual(r.optimizer, "adam")
        XCTAssertEqual(r.weightDecay, 0.01)
        XCTAssertEqual(r.dropout, 0)
        XCTAssertFalse(r.passes.fusion, "the recipe compiles with the pass options it was given")
        XCTAssertEqual(r.seed, 7)
        XCTAssertTrue(r.makeOptimizer(learningRate: 0.1) is Adam)
        XCTAssertThrowsError(try Recipe(graph: try cnn(), overrides: RecipeOverrides(optimizer: "rmsprop"))) {
            XCTAssertTrue("\($0)".contains("--optimizer must be one of 'sgd', 'adam', got \"rmsprop\""), "\($0)")
        }
        XCTAssertThrowsError(try Recipe(graph: try cnn(), overrides: RecipeOverrides(learningRates: [])))
    }

    func testEveryEpochVisitsEachExampleOnceInANewOrder() {
        var order = BatchOrder(count: 10, batchSize: 4, seed: 3)
        XCTAssertEqual(order.batchesPerEpoch, 3)
        var epochs: [[Int]] = []
        for _ in 0..<2 {
            order.shuffle()
            let batches = (0..<order.batchesPerEpoch).map { Array(order.batch($0)) }
            XCTAssertEqual(batches.map(\.count), [4, 4, 2], "the last batch is short")
            epochs.append(batches.flatMap { $0 })
            XCTAssertEqual(epochs.last?.sorted(), Array(0..<10))
        }
        XCTAssertNotEqual(epochs[0], epochs[1], "each epoch reshuffles")
        var again = BatchOrder(count: 10, batchSize: 4, seed: 3)
        again.shuffle()
        XCTAssertEqual(Array(again.order), epochs[0], "the seed fixes the order")
    }

    func testAModelWithoutTrainingDataSaysSo() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-recipe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("m.swiftgraph")
        try """
            let x = input("x", [batch, 4])
            let y = input("y", [batch], .int64)
            let logits = Linear(3)(x)
            output("logits", logits)
            loss(crossEntropy(logits, y))
            """.write(to: model, atomically: true, encoding: .utf8)
        let log = CollectingReporter()
        XCTAssertThrowsError(try TrainingJob.run(file: model.path, options: TrainingOptions(out: dir.appendingPathComponent("r").path), reporter: log)) {
            XCTAssertTrue("\($0)".contains("declares no training data"), "\($0)")
        }
        XCTAssertEqual(log.resultLines, [])
    }
}
