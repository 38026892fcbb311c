import Datasets
import Foundation
import XCTest

/// `graphc MODEL --run` as a user runs it: the table, the note on random inputs, the .npz, and
/// clear errors for bad inputs.
final class RunCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try CLI.temporaryDirectory()
        addTeardownBlock { [dir] in try? FileManager.default.removeItem(at: dir!) }
    }

    func npy(_ name: String, shape: [Int], floats: [Float]) throws -> String {
        let url = dir.appendingPathComponent(name)
        let array = NPYArray(dtype: .f32, shape: shape, raw: floats.withUnsafeBytes { Data($0) }, source: name)
        try NPYWriter.encode(array).write(to: url)
        return url.path
    }

    func testRunsQ1AttentionOnRandomInputsAndWritesTheOutputs() throws {
        let out = dir.appendingPathComponent("q1.npz").path
        let r = try CLI.run(["graphs/q1_attention.swiftgraph", "--run", "--seed", "7", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("note: random inputs (seed 8): X (6, 8) float32, standard normal"), r.stderr)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.first?.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) },
                       ["output", "shape", "dtype", "min", "max", "mean", "first values"])
        for name in ["P1", "P2", "A1", "A2"] {
            XCTAssertTrue(lines.contains { $0.hasPrefix("| \(name) ") && $0.contains("float32") }, r.stdout)
        }
        XCTAssertTrue(r.stdout.contains("wrote \(out): P1, P2, A1, A2"), r.stdout)
        let archive = try NPZArchive(path: out)
        XCTAssertEqual(archive.keys, ["P1", "P2", "A1", "A2"])
        let p1 = try archive.array("P1")
        XCTAssertEqual(p1.shape, [6, 6])
        let values = p1.floats()
        for row in 0..<6 { XCTAssertEqual(values[(row * 6)..<(row * 6 + 6)].reduce(0, +), 1, accuracy: 1e-5, "softmax rows sum to 1") }
    }

    func testGivenInputsAreUsedAndBadOnesAreNamed() throws {
        let x = try npy("X.npy", shape: [6, 8], floats: [Float](repeating: 0, count: 48))
        let r = try CLI.run(["graphs/q1_attention.swiftgraph", "--run", "--inputs", x])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("random"), r.stderr)
        // X = 0: every score is 0, so each probability is exactly 1/6.
        let p1 = r.stdout.split(separator: "\n").first { $0.hasPrefix("| P1 ") }?.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(p1?.prefix(6), ["P1", "(6, 6)", "float32", "0.166667", "0.166667", "0.166667"], r.stdout)

        let wrong = try npy("wrong.npy", shape: [5, 8], floats: [Float](repeating: 0, count: 40))
        let bad = try CLI.run(["graphs/q1_attention.swiftgraph", "--run", "--inputs", "X=" + wrong])
        XCTAssertEqual(bad.status, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.contains("error: input 'X' from \(wrong) has shape (5, 8) but graphs/q1_attention.swiftgraph declares f32[6,8]: dimension 0 must be 6, not 5"), bad.stderr)

        let extra = try CLI.run(["graphs/q1_attention.swiftgraph", "--run", "--inputs", x, "--inputs", "Y=" + wrong])
        XCTAssertEqual(extra.status, 1, extra.stderr)
        XCTAssertTrue(extra.stderr.contains("error: 'Y' (from \(wrong)) is not an input of graphs/q1_attention.swiftgraph; its inputs are: X f32[6,8]"), extra.stderr)

        let image = try npy("image.npy", shape: [1, 1, 28, 28], floats: [Float](repeating: 0, count: 784))
        let missing = try CLI.run(["graphs/cnn.swiftgraph", "--run", "--inputs", image])
        XCTAssertEqual(missing.status, 1, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("error: missing input 'label' (i64[B]); the inputs of graphs/cnn.swiftgraph are: image f32[B,1,28,28], label i64[B]"), missing.stderr)
        let filled = try CLI.run(["graphs/cnn.swiftgraph", "--run", "--inputs", image, "--random-inputs"])
        XCTAssertEqual(filled.status, 0, filled.stderr)
        XCTAssertTrue(filled.stderr.contains("label (1,) int64, uniform in 0..<10"), filled.stderr)

        let truncated = dir.appendingPathComponent("cut.npy")
        try Data(try Data(contentsOf: URL(fileURLWithPath: x)).prefix(164)).write(to: truncated)
        let cut = try CLI.run(["graphs/q1_attention.swiftgraph", "--run", "--inputs", "X=" + truncated.path])
        XCTAssertEqual(cut.status, 1, cut.stderr)
        XCTAssertTrue(cut.stderr.contains("cut.npy: truncated: shape (6, 8) of '<f4' needs 192 data bytes, found 36"), cut.stderr)
    }

    func testFlagsThatGoWithRun() throws {
        let noRun = try CLI.run(["graphs/q1_attention.swiftgraph", "--count-params", "--inputs", "x.npz"])
        XCTAssertNotEqual(noRun.status, 0)
        XCTAssertTrue(noRun.stderr.contains("--inputs and --random-inputs go with --run"), noRun.stderr)
        let notNPZ = try CLI.run(["graphs/q1_attention.swiftgraph", "--run", "--out", "results"])
        XCTAssertNotEqual(notNPZ.status, 0)
        XCTAssertTrue(notNPZ.stderr.contains("--out must end in .npz"), notNPZ.stderr)
        let two = try CLI.run(["graphs/q1_attention.swiftgraph", "--run", "--train"])
        XCTAssertTrue(two.stderr.contains("choose one of"), two.stderr)
    }
}
