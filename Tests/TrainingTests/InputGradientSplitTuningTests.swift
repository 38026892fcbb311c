import Foundation
import Frontend
import GraphIR
import Passes
@testable import Runtime
@testable import Training
import XCTest

/// The whole-step choice between dense input gradients split over k and their own choices:
/// nothing chosen with tuning off or one thread; on two threads the choice is one of the two,
/// measured as whole steps and cached; the products run as it says, in this process and the
/// next, while their own cached choices stay as measured alone. (Which wins depends on the
/// machine, so no test asserts which.)
final class InputGradientSplitTuningTests: XCTestCase {
    func graphs() throws -> (forward: Graph, training: Graph) {
        try Pipelines.compileForTraining(try Frontend.lower(path: Q3Support.repository.appendingPathComponent("graphs/cnn.swiftgraph").path,
                                                            options: FrontendOptions(mode: .train)))
    }

    /// The CNN's dense input gradient at batch 64 on two threads: dy [64, 600] by W [600, 1152].
    let product = TuningKey(point: "thin-matmul", shapes: [[64, 600], [600, 1152]], detail: "", threads: 2)

    func testTuningOffOrOneThreadChoosesNothing() throws {
        let (forward, training) = try graphs()
        let feeds = try Bench.randomFeeds(forward, batch: 64, random: RandomSource(seed: 5))
        XCTAssertNil(try FusionTuning.chooseInputGradientSplit(forward: forward, training: training, feeds: feeds, threads: 2, seed: 1,
                                                                tuner: Tuner(mode: .off)))
        XCTAssertNil(try FusionTuning.chooseInputGradientSplit(forward: forward, training: training, feeds: feeds, threads: 1, seed: 1,
                                                                tuner: Tuner(mode: .fast)))
    }

    /// A timed step ends with the update it is given (the recipe's optimiser and clipping for
    /// the input-gradient split), and plain tiny-rate SGD without clipping by default.
    func testTimingStepsUseTheUpdateTheyAreGiven() throws {
        let (forward, training) = try graphs()
        let feeds = try Bench.randomFeeds(forward, batch: 8, random: RandomSource(seed: 5))
        let plain = try FusionTuning.timingTrainer(forward: forward, training: training, threads: 1, seed: 1, planner: BufferPlan.lifetimes,
                                                   tuner: Tuner(mode: .off))
        XCTAssertTrue(plain.optimizer is SGD)
        XCTAssertNil(plain.gradClip)
        let update = FusionTuning.TimingUpdate(gradClip: 5) { Adam(learningRate: 1e-6) }
        let adam = try FusionTuning.timingTrainer(forward: forward, training: training, threads: 1, seed: 1, planner: BufferPlan.lifetimes,
                                                  tuner: Tuner(mode: .off), update: update)
        XCTAssertEqual(adam.gradClip, 5)
        let optimizer = try XCTUnwrap(adam.optimizer as? Adam)
        XCTAssertEqual(optimizer.stateBytes, 0)
        try FusionTuning.timingStep(adam, feeds: feeds)
        XCTAssertEqual(optimizer.stateBytes, optimizer.plannedStateBytes(parameterCount: ParameterCount.report(forward).trainable),
                       "the step's update ran through the given Adam")
    }

    func testTheProductsFollowTheMeasuredChoiceAndTheCacheKeepsIt() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-split-tuning-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tuning.json")
        let (forward, training) = try graphs()
        let feeds = try Bench.randomFeeds(forward, batch: 64, random: RandomSource(seed: 5))
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url))
        // The product's own choice, as if timed alone: the column split.
        tuner.remember(product, variant: "unpacked")
        let chosen = try XCTUnwrap(try FusionTuning.chooseInputGradientSplit(forward: forward, training: training, feeds: feeds,
                                                                              threads: 2, seed: 1, tuner: tuner))
        let decision = try XCTUnwrap(tuner.decisions.first { $0.key.point == "input-gradient-split-train" })
        XCTAssertEqual(decision.variant, chosen)
        XCTAssertEqual(decision.seconds.map(\.variant), ["k-split", "as-timed"])
        XCTAssertTrue(decision.seconds.allSatisfy { $0.seconds > 0 && $0.seconds.isFinite })
        let names = ["whole", "unpacked", "k-split-2", "columns-16"]
        XCTAssertEqual(tuner.recall(product, variants: names), chosen == "k-split" ? "k-split-2" : "unpacked")
        XCTAssertEqual(TuningCache(url: url).entry(product, on: .current)?.variant, "unpacked",
                       "the product's own choice stays cached as measured alone")

        // Measured while the machine was busy, nothing was cached (the tuner's rule).
        guard decision.source == .measured else { return }
        // A new process reads the step's choice back, measures nothing, and runs the products by it.
        let again = Tuner(mode: .fast, cache: TuningCache(url: url))
        let reread = try FusionTuning.chooseInputGradientSplit(forward: forward, training: training, feeds: feeds, threads: 2, seed: 1,
                                                              tuner: again)
        XCTAssertEqual(reread, chosen)
        XCTAssertEqual(again.recall(product, variants: names), chosen == "k-split" ? "k-split-2" : "unpacked")
        XCTAssertEqual(again.decisions.first { $0.key.point == "input-gradient-split-train" }?.source, .cached)
    }
}
