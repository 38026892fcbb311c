import Foundation
import XCTest

/// `--verify-each` and `--pass-stats` with every command that compiles a model: the
/// statistics of each compilation go to stderr, headed by what was compiled.
final class PassOptionsCLITests: XCTestCase {
    func testTrainingPrintsWhatEachPassDid() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("tiny.npz")
        try Data(TinyFashionMNIST.npz()).write(to: data)
        let r = try CLI.run(["graphs/cnn.swiftgraph", "--train", "--epochs", "1", "--batch-size", "2", "--verify-each", "--pass-stats",
                             "--data", data.path, "--out", dir.appendingPathComponent("results").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("test accuracy"), r.stdout)
        let stats = r.stderr.components(separatedBy: "pass statistics (training):\n")
        XCTAssertEqual(stats.count, 2, r.stderr)
        let lines = stats.last?.split(separator: "\n") ?? []
        for (pass, what) in [("set-dropout", "masks set 1"), ("autodiff", "gradients 10"), ("fusion", "ops absorbed")] {
            XCTAssertTrue(lines.contains { $0.hasPrefix(pass + " ") && $0.contains(what) }, "\(pass): \(what) in\n\(r.stderr)")
        }
    }

    func testRunAndBenchPrintTheirCompilations() throws {
        let run = try CLI.run(["graphs/q1_attention.swiftgraph", "--run", "--verify-each", "--pass-stats"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("pass statistics (inference):\ndrop-gradients "), run.stderr)
        XCTAssertFalse(run.stdout.contains("pass statistics"), "stdout holds the outputs only")

        let bench = try CLI.run(["graphs/cnn.swiftgraph", "--bench", "--bench-batches", "2", "--bench-eval-batch", "2", "--bench-repeats", "1",
                                 "--bench-seconds", "0.01", "--threads", "1", "--pass-stats"])
        XCTAssertEqual(bench.status, 0, bench.stderr)
        XCTAssertTrue(bench.stderr.contains("pass statistics (training):"), bench.stderr)
        XCTAssertTrue(bench.stdout.hasPrefix("{"), "stdout holds the JSON report only: \(bench.stdout)")
    }

    /// `--bench-pairs` times the model against its unfused build, so it needs both on, and a count.
    func testBenchPairsNeedFusionAndACount() throws {
        for (flags, message) in [(["--bench-pairs", "2", "--fusion", "off"], "leave both on"),
                                 (["--bench-pairs", "2", "--memory-plan", "off"], "leave both on"),
                                 (["--bench-pairs", "-1"], "between 0 and 1000"), (["--bench-pairs", "1001"], "between 0 and 1000")] {
            let r = try CLI.run(["graphs/cnn.swiftgraph", "--bench"] + flags)
            XCTAssertNotEqual(r.status, 0, flags.joined(separator: " "))
            XCTAssertTrue(r.stderr.contains(message), r.stderr)
        }
    }

    func testCountParamsRunsNoPasses() throws {
        let r = try CLI.run(["graphs/cnn.swiftgraph", "--count-params", "--pass-stats"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--count-params runs no passes"), r.stderr)
    }

    /// Pass timings are printed by --dump-ir alone; elsewhere the flag is refused, not ignored.
    func testTimePassesGoesWithDumpIR() throws {
        let r = try CLI.run(["graphs/cnn.swiftgraph", "--run", "--time-passes"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--time-passes goes with --dump-ir"), r.stderr)
    }

    /// Decoding captions needs the model lowered in infer mode, which a .gir (one lowered
    /// graph) cannot give: the error names the file and the source to give instead.
    func testCaptionTrainingOnADumpSaysWhatItNeeds() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dump = try CLI.run(["graphs/caption_lstm.swiftgraph", "--dump-ir"])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        let gir = dir.appendingPathComponent("lstm.gir")
        try dump.stdout.write(to: gir, atomically: true, encoding: .utf8)
        // The weights file exists (it is checked before any work), so the model is what fails.
        let weights = dir.appendingPathComponent("decoder.safetensors").path
        try Data().write(to: URL(fileURLWithPath: weights))
        for command in [["--train"], ["--eval", "--weights", weights]] {
            let r = try CLI.run([gir.path] + command + ["--out", dir.appendingPathComponent("results").path])
            XCTAssertNotEqual(r.status, 0)
            for part in ["\(gir.path): caption \(command[0] == "--train" ? "training" : "evaluation") needs the model's inference form",
                         "give the .swiftgraph it was dumped from (graphs/caption_lstm.swiftgraph)"] {
                XCTAssertTrue(r.stderr.contains(part), "\(part) in \(r.stderr)")
            }
        }
    }
}
