import Foundation
import Frontend
import GraphIR
import Passes
@testable import Runtime
@testable import Training
import XCTest

/// The fusion decision: off keeps the options as given; on, the choice is one of the
/// candidates, is remembered, and is read back from the cache without measuring again.
/// (Which candidate wins depends on this machine's speed, so no test asserts which.)
final class FusionTuningTests: XCTestCase {
    func cnn() throws -> Graph {
        try Frontend.lower(path: Q3Support.repository.appendingPathComponent("graphs/cnn.swiftgraph").path,
                           options: FrontendOptions(mode: .train))
    }

    func testTuningOffKeepsTheOptions() throws {
        var options = PassOptions()
        options.disabledFusions = [.elementwise]
        let chosen = try FusionTuning.choose(try cnn(), options: options, step: .train, feeds: [:], threads: 1, seed: 1,
                                             tuner: Tuner(mode: .off))
        XCTAssertEqual(chosen.disabledFusions, [.elementwise])
        XCTAssertTrue(chosen.fusion)
        XCTAssertEqual(FusionTuning.describe(chosen), "without-elementwise")
        var none = PassOptions()
        none.fusion = false
        XCTAssertEqual(FusionTuning.describe(none), "none")
        XCTAssertEqual(FusionTuning.describe(PassOptions()), "all")
        let (forward, training) = try Pipelines.compileForTraining(try cnn())
        XCTAssertEqual(try FusionTuning.choosePlanner(forward: forward, training: training, step: .train, feeds: [:], threads: 1, seed: 1,
                                                      tuner: Tuner(mode: .off)).name, "lifetimes")
    }

    func testChoiceIsACandidateAndIsRemembered() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-fusion-tuning-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tuning.json")
        let model = try cnn()
        let feeds = try Bench.randomFeeds(try Pipelines.compileForTraining(model).forward, batch: 2, random: RandomSource(seed: 3))
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url))
        let chosen = try FusionTuning.choose(model, options: PassOptions(), step: .train, feeds: feeds, threads: 1, seed: 1, tuner: tuner)
        let decision = try XCTUnwrap(tuner.decisions.first { $0.key.point == "fusion-train" })
        XCTAssertEqual(decision.source, .measured)
        XCTAssertEqual(decision.variant, FusionTuning.describe(chosen))
        let names = decision.seconds.map(\.variant)
        XCTAssertEqual(names.prefix(2), ["all", "none"])
        XCTAssertTrue(names.contains("without-conv-epilogue"), "\(names)")
        XCTAssertTrue(decision.seconds.allSatisfy { $0.seconds > 0 && $0.seconds.isFinite })

        let again = Tuner(mode: .fast, cache: TuningCache(url: url))
        let reread = try FusionTuning.choose(model, options: PassOptions(), step: .train, feeds: feeds, threads: 1, seed: 1, tuner: again)
        XCTAssertEqual(FusionTuning.describe(reread), FusionTuning.describe(chosen))
        XCTAssertEqual(again.decisions.first?.source, .cached)
        // Another model (another dropout rate) is a different key.
        var other = PassOptions()
        other.dropout = 0.3
        XCTAssertNotEqual(FusionTuning.fingerprint(model, other), FusionTuning.fingerprint(model, PassOptions()))

        // Timed with the training's own optimiser, the steps end with it, and the choice is
        // another key (the SGD-timed one does not answer for Adam with clipping).
        var made = 0
        let adam = FusionTuning.TimingUpdate(gradClip: 5) { made += 1; return Adam(learningRate: 1e-6) }
        let withAdam = Tuner(mode: .fast, cache: TuningCache(url: url))
        _ = try FusionTuning.choose(model, options: PassOptions(), step: .train, feeds: feeds, threads: 1, seed: 1, tuner: withAdam, update: adam)
        let adamDecision = try XCTUnwrap(withAdam.decisions.first { $0.key.point == "fusion-train" })
        XCTAssertEqual(adamDecision.source, .measured)
        XCTAssertTrue(adamDecision.key.detail.hasSuffix("-adam-clip"), adamDecision.key.detail)
        XCTAssertTrue(decision.key.detail.hasSuffix("-sgd"), decision.key.detail)
        XCTAssertGreaterThan(made, 2, "every variant's timing trainer made its Adam (and the key's name one)")
    }

    /// Whole-graph variants are measured interleaved with one variant's step (and memory)
    /// alive at a time: each measurement makes its step afresh, runs it once untimed, then
    /// times a batch. (Only the order and counts are checked, not which variant wins.)
    func testOneStepAliveAtATimeAndMadeAfreshPerMeasurement() throws {
        final class Step { static var alive = 0; init() { Step.alive += 1 }; deinit { Step.alive -= 1 } }
        var made: [String] = [], runs: [String: Int] = [:]
        let variants = ["all", "none", "without-x"]
        let tuner = Tuner(mode: .fast)
        _ = try FusionTuning.measureOneAtATime(TuningKey(point: "fusion-test", shapes: [[1]], threads: 1), variants: variants,
                                               tuner: tuner) { name in
            XCTAssertEqual(Step.alive, 0, "the previous variant's step is gone before \(name)'s is made")
            made.append(name)
            let step = Step()
            return { _ = step; runs[name, default: 0] += 1 }
        }
        XCTAssertEqual(Step.alive, 0)
        // Which variant wins is chance here; one that beat the default was timed against it
        // again, in pairs after the rounds (`Tuner.confirmedRatio`).
        if let challenger = tuner.decisions.first?.confirmation?.challenger {
            let confirming = (Tuner.fastRepeats...Tuner.maxRounds + 1).filter { $0 % 2 == 0 }.map { rounds in
                (0..<rounds).flatMap { Tuner.confirmingOrder($0, challenger: challenger, incumbent: "all") }
            }
            let pairs = confirming.last { Array(made.suffix($0.count)) == $0 && (made.count - $0.count) % variants.count == 0 }
            XCTAssertNotNil(pairs, "the rounds end with \(Tuner.fastRepeats) or more pairs of the default and \(challenger)")
            made.removeLast(pairs?.count ?? 0)
        }
        // Steps of microseconds: more rounds than the least, up to the most (`Tuner.roundsSeconds`).
        let rounds = made.count / variants.count - 1
        XCTAssertEqual(made.count % variants.count, 0)
        XCTAssertTrue((Tuner.fastRepeats...Tuner.maxRounds).contains(rounds), "\(rounds) rounds")
        XCTAssertEqual(Array(made.prefix(12)), ["all", "none", "without-x", "none", "without-x", "all", "without-x", "all", "none", "all", "none", "without-x"],
                       "a warm-up round, then rotated rounds")
        XCTAssertEqual(made, Tuner.measuringOrder(variants: variants.count, rounds: rounds).map { variants[$0] })
        for name in variants { XCTAssertGreaterThan(runs[name] ?? 0, 2 * (1 + Tuner.fastRepeats), "an untimed run, then a batch") }
    }
}
