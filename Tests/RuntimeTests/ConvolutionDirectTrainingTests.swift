import Foundation
import Frontend
import GraphIR
import Passes
@testable import Runtime
import XCTest

/// The CNN's training steps with every convolution on its `direct` form (forward, input and
/// weight gradients, as a tuning cache can choose them), or with the first layer's forward and
/// weight gradient on the `rows` forms, or with the second layer's forward and input gradient
/// on the `winograd` forms, follow the im2col + GEMM steps (`--tune off`): the same losses and weights
/// to float tolerance, on 1 and 2 threads.
final class ConvolutionDirectTrainingTests: XCTestCase {
    let data = TestData(seed: 5)
    static let points: Set<String> = ["conv2d-forward", "conv2d-grad-weight", "conv2d-grad-input"]

    func testCNNTrainingWithDirectConvolutionsMatchesGEMMs() throws {
        try checkTraining(using: "direct") { _ in "direct" }
    }

    func testCNNTrainingWithRowsFirstLayerMatchesGEMMs() throws {
        // The first layer's keys: its forward's input (shapes[0]) and its weight gradient's x
        // (shapes[1]) have one channel.
        try checkTraining(using: "rows") { key in
            let firstLayer = key.point == "conv2d-forward" ? key.shapes.first?[1] == 1
                : key.point == "conv2d-grad-weight" && key.shapes.count > 1 && key.shapes[1][1] == 1
            return firstLayer ? "rows" : "direct"
        }
    }

    func testCNNTrainingWithWinogradWeightGradientsMatchesGEMMs() throws {
        try checkTraining(using: "winograd") { key in key.point == "conv2d-grad-weight" ? "winograd" : "direct" }
    }

    func testCNNTrainingWithWinogradConvolutionsMatchesGEMMs() throws {
        // The second layer's forward and input gradient (the first layer, over one channel, is
        // not offered Winograd).
        try checkTraining(using: "winograd") { key in
            switch key.point {
            case "conv2d-forward": key.shapes.first?[1] == 1 ? "rows" : "winograd"
            case "conv2d-grad-input": "winograd"
            default: "direct"
            }
        }
    }

    /// Trains with the variant `choice` names for each convolution choice point's key, `variant`
    /// among them.
    func checkTraining(using variant: String, _ choice: (TuningKey) -> String) throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let lowered = try Frontend.lower(path: repository.appendingPathComponent("graphs/cnn.swiftgraph").path,
                                         options: FrontendOptions(mode: .train))
        // The first layer keeps its full-resolution forward (recompute-pooled-convolutions would
        // pool it in its store, where no convolution form is chosen).
        var options = PassOptions(verifyEach: true)
        options.disabledFusions = [.recomputedPooledConvolution]
        let training = try Pipelines.compileForTraining(lowered, PassContext(options: options)).training
        let batches = (0..<3).map { _ in ["image": data.floats([7, 1, 28, 28], in: 0...1), "label": data.ints([7], below: 10)] }

        func train(threads: Int, tuner: Tuner) throws -> (losses: [Float], weights: [String: [Float]]) {
            let store = ParameterStore()
            try store.initialise(from: training, seed: 42)
            let trainer = try Trainer(graph: training, parameters: store, optimizer: SGD(learningRate: 0.05),
                                      options: ExecutionOptions(training: true, seed: 9, threads: threads, tuner: tuner))
            let losses = try batches.map { try trainer.step(feeds: $0) }
            var weights: [String: [Float]] = [:]
            for name in trainer.trainable { weights[name] = try XCTUnwrap(store.get(name)).floats }
            return (losses, weights)
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-direct-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        for threads in [1, 2] {
            // A timed run finds the choice points' keys; the cache then names `choice`'s variant for each.
            let cache = TuningCache(url: directory.appendingPathComponent("tuning-\(threads).json"))
            let discovery = Tuner(mode: .fast, cache: cache)
            _ = try train(threads: threads, tuner: discovery)
            let keys = discovery.decisions.map(\.key).filter { Self.points.contains($0.point) }
            XCTAssertEqual(Set(keys.map(\.point)), Self.points, "every convolution choice point is met")
            for key in keys { cache.remember(choice(key), for: key, on: discovery.machine) }
            let tuner = Tuner(mode: .fast, cache: cache)
            let direct = try train(threads: threads, tuner: tuner)
            let chosen = tuner.decisions.filter { Self.points.contains($0.key.point) }
            XCTAssertEqual(chosen.count, keys.count)
            XCTAssertTrue(chosen.contains { $0.variant == variant }, "\(variant) is one of the choices")
            for d in chosen { XCTAssertEqual(d.variant, choice(d.key), "\(d.key)"); XCTAssertEqual(d.source, .cached, "\(d.key)") }

            let gemm = try train(threads: threads, tuner: Tuner(mode: .off))
            for (a, b) in zip(direct.losses, gemm.losses) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "\(threads) threads") }
            XCTAssertFalse(gemm.weights.isEmpty)
            for (name, want) in gemm.weights {
                let got = try XCTUnwrap(direct.weights[name])
                let worst = zip(got, want).map { abs($0 - $1) }.max() ?? 0
                XCTAssertLessThanOrEqual(worst, 1e-4, "\(name) on \(threads) threads")
            }
        }
    }
}
