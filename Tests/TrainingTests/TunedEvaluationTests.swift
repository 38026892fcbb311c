import Foundation
import Frontend
import GraphIR
import Passes
import Runtime
@testable import Training
import XCTest

/// The scoring graph of a model compiled for training (`TunedCompilation.training`, what
/// `--train`, `--eval` and `--bench` run) gets its convolutions chosen by the tuner, at the
/// batch it is run with, a layer that a 2x2 max pooling alone reads weighing the pooling in
/// the blocked store against the other algorithms with the pooling after. The tuner's cache
/// decides here (no timing); the scores match the fixed default's.
final class TunedEvaluationTests: XCTestCase {
    let batch = 64

    func cnn() throws -> Graph {
        let url = Q3Support.repository.appendingPathComponent("graphs/cnn.swiftgraph")
        return try Frontend.lower(source: try String(contentsOf: url, encoding: .utf8), file: "cnn.swiftgraph",
                                  options: FrontendOptions(mode: .train))
    }

    func ops(_ g: Graph) -> [String] { g.nodes.map(\.op.name) }

    func testTuningOffScoresWithTheBlockedConvolutionsPoolingInTheirStore() throws {
        let tuner = Tuner(mode: .off)
        let context = PassContext(options: PassOptions(batchSize: 8))
        let (forward, training) = try TunedCompilation.training(try cnn(), context, tuner: tuner, evalThreads: 2, evalBatch: batch)
        XCTAssertEqual(ops(forward).filter { $0 == "blocked_conv2d_maxpool" }.count, 2)
        XCTAssertFalse(ops(training).contains { $0.hasPrefix("blocked_") || $0.hasPrefix("winograd") }, "the training graph keeps conv2d")
        let layers = tuner.decisions.filter { $0.key.point == "conv2d-algorithm" }
        XCTAssertEqual(layers.count, 2)
        XCTAssertTrue(layers.allSatisfy { $0.source == .fixed && $0.variant == "blocked" })
        // Keyed by the evaluation batch (not the training batch, nor 1) and the pooling.
        XCTAssertTrue(layers.allSatisfy { $0.key.shapes[0][0] == batch && $0.key.detail.hasSuffix("-relu-pool2") }, "\(layers.map(\.key))")
        XCTAssertEqual(context.options.batchSize, 8, "the caller's options are left as given")
    }

    /// The cache says Winograd for the second layer and im2col for the first: the scoring graph
    /// runs them with the pooling after, nothing is timed, and the scores are the fixed
    /// default's within float rounding.
    func testTheTunersChoiceMakesTheScoringGraph() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-tuned-eval-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let lowered = try cnn()
        let fixedTuner = Tuner(mode: .off)
        let (fixed, _) = try TunedCompilation.training(lowered, PassContext(), tuner: fixedTuner, evalThreads: 2, evalBatch: batch)
        let keys = fixedTuner.decisions.filter { $0.key.point == "conv2d-algorithm" }.map(\.key)
        let first = try XCTUnwrap(keys.first { $0.shapes[0][1] == 1 }), second = try XCTUnwrap(keys.first { $0.shapes[0][1] == 16 })
        let cache = TuningCache(url: dir.appendingPathComponent("tuning.json"))
        XCTAssertNil(cache.remember("im2col", for: first, on: .current))
        XCTAssertNil(cache.remember("winograd", for: second, on: .current))

        let tuner = Tuner(mode: .fast, cache: TuningCache(url: dir.appendingPathComponent("tuning.json")))
        let (tuned, _) = try TunedCompilation.training(lowered, PassContext(), tuner: tuner, evalThreads: 2, evalBatch: batch)
        let names = ops(tuned)
        XCTAssertFalse(names.contains("blocked_conv2d_maxpool"))
        XCTAssertEqual(names.filter { $0 == "winograd_conv2d" }.count, 1)
        XCTAssertEqual(names.filter { $0 == "blocked_maxpool2d" }.count, 1, "Winograd's pooling after it, blocked")
        XCTAssertEqual(names.filter { $0 == "conv2d" || $0 == "fused_conv2d" }.count, 1, "im2col")
        XCTAssertEqual(names.filter { $0 == "maxpool2d" }.count, 1, "im2col's pooling after it")
        let layers = tuner.decisions.filter { $0.key.point.hasPrefix("conv2d") }
        XCTAssertEqual(Set(layers.map(\.key)), Set(keys))
        XCTAssertTrue(layers.allSatisfy { $0.source == .cached }, "nothing timed: \(layers)")

        let store = ParameterStore()
        try store.initialise(from: fixed, seed: 3)
        let image = HostTensor(shape: [batch, 1, 28, 28], floats: TunedCompilation.synthetic([batch, 1, 28, 28], positive: true))
        let label = HostTensor(shape: [batch], ints: (0..<batch).map { Int64($0 % 10) })
        func scores(_ g: Graph) throws -> [Float] {
            let executor = try Executor(graph: g, options: ExecutionOptions(training: false, threads: 2))
            return try XCTUnwrap(executor.run(feeds: ["image": image, "label": label], parameters: store)[g.outputs[0].name]).floats
        }
        let want = try scores(fixed), got = try scores(tuned)
        XCTAssertEqual(want.count, batch * 10)
        let worst = zip(got, want).map { abs(Double($0) - Double($1)) }.max() ?? .infinity
        XCTAssertLessThan(worst, 1e-4, "the largest difference in log-probabilities")
    }
}
