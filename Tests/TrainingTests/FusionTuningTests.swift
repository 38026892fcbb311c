import Foundation
import Frontend
import GraphIR
import Passes
import Runtime
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
    }
}
