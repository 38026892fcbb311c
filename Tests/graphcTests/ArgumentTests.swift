import Foundation
import Training
import XCTest
@testable import graphc

/// The command line's flags as the libraries' settings, and the combinations it refuses.
final class ArgumentTests: XCTestCase {
    /// Parses a command line as the executable would (validation included).
    func command(_ args: [String]) throws -> Graphc {
        let parsed = try Graphc.parseAsRoot(args)
        guard let c = parsed as? Graphc else { throw XCTSkip("parseAsRoot returned \(type(of: parsed))") }
        return c
    }

    func testTrainingFlagsBecomeOverridesAndOptions() throws {
        let c = try command(["graphs/cnn.swiftgraph", "--train", "--lr", "0.001,0.1", "--epochs", "2", "--batch-size", "16",
                             "--optimizer", "adam", "--l2", "0.5", "--dropout", "0.2", "--seed", "9", "--threads", "1",
                             "--eval-threads", "2", "--out", "o", "--fusion", "off", "--profile", "--data", "d", "--weights", "w.safetensors"])
        let o = try c.recipeOverrides()
        XCTAssertEqual(o.learningRates, [0.001, 0.1])
        XCTAssertEqual([o.epochs, o.batchSize, o.threads, o.evalThreads], [2, 16, 1, 2])
        XCTAssertEqual(o.optimizer, "adam")
        XCTAssertEqual(o.weightDecay, 0.5)
        XCTAssertEqual(o.seed, 9)
        let t = c.trainingOptions
        XCTAssertEqual(t.out, "o")
        XCTAssertFalse(t.passes.fusion)
        XCTAssertEqual(t.passes.dropout, 0.2)
        XCTAssertTrue(t.profile)
        XCTAssertEqual(t.data, "d")
        XCTAssertNil(t.weights, "--train trains: --weights only names what --eval evaluates")
        XCTAssertEqual(try command(["graphs/cnn.swiftgraph", "--eval", "--weights", "w.safetensors"]).trainingOptions.weights, "w.safetensors")
        XCTAssertNil(try command(["graphs/cnn.swiftgraph", "--train"]).recipeOverrides().learningRates, "no --lr keeps the model's")
    }

    func testBenchFlagsBecomeSettings() throws {
        let s = try command(["graphs/cnn.swiftgraph", "--bench", "--bench-batches", "4, 32", "--memory-plan", "off"]).benchSettings()
        XCTAssertEqual(s.batches, [4, 32])
        XCTAssertFalse(s.memoryPlan)
        XCTAssertThrowsError(try command(["graphs/cnn.swiftgraph", "--bench", "--bench-batches", "4,x"]).benchSettings()) {
            XCTAssertTrue("\($0)".contains("'x' is not a positive batch size"), "\($0)")
        }
    }

    func testRefusedCombinations() {
        XCTAssertThrowsError(try command(["--bleu", "a.json"]))
        XCTAssertThrowsError(try command(["--bleu", "a.json", "--refs", "b.json", "graphs/cnn.swiftgraph"]))
        XCTAssertNoThrow(try command(["--bleu", "a.json", "--refs", "b.json"]))
        XCTAssertThrowsError(try command(["graphs/resnet18.swiftgraph", "--extract-features"]))
        XCTAssertThrowsError(try command(["graphs/resnet18.swiftgraph", "--extract-features", "--images", "x", "--on-bad-image", "maybe"]))
        XCTAssertThrowsError(try command(["graphs/resnet18.swiftgraph", "--dump-ir", "--convolution", "fft"]))
        XCTAssertNoThrow(try command(["graphs/resnet18.swiftgraph", "--dump-ir", "--convolution", "winograd"]))
    }
}
