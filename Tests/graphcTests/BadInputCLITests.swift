import Foundation
import XCTest

/// Bad input of every kind ends in a clear message and a non-zero exit, never a crash.
final class BadInputCLITests: XCTestCase {
    func write(_ text: String, _ name: String) throws -> String {
        let dir = try CLI.temporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Exit status 1 (a handled error), not a signal (a trap would give 132-139 or a crash).
    func assertFails(_ args: [String], says text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLI.run(args)
        XCTAssertTrue(r.status == 1 || r.status == 64, "status \(r.status): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "expected '\(text)' in:\n\(r.stderr)", file: file, line: line)
    }

    func testShapeMismatchNamesTheLayerTheShapesAndTheLine() throws {
        let path = try write("""
        let image = input("image", [batch, 1, 28, 28])
        let head = Sequential {
            Flatten()
            Linear(in: 1000, out: 600)
        }
        output("y", head(image))
        """, "shape.swiftgraph")
        try assertFails([path, "--count-params"], says: "shape.swiftgraph:4:5: error: Linear `head.1`")
        let r = try CLI.run([path, "--count-params"])
        XCTAssertTrue(r.stderr.contains("f32[B,784]"), r.stderr)
        XCTAssertTrue(r.stderr.contains("    Linear(in: 1000, out: 600)\n    ^"), r.stderr)
    }

    func testSyntaxErrorsAndUnsupportedSwift() throws {
        try assertFails([try write("let x = (1 +\n", "a.swiftgraph"), "--dump-ir"], says: "a.swiftgraph:")
        try assertFails([try write("class A {}\n", "b.swiftgraph"), "--dump-ir"], says: "`class` is not part of the graphc DSL")
        try assertFails([try write("let s = \"open\n", "c.swiftgraph"), "--dump-ir"], says: "c.swiftgraph:1:")
    }

    func testMalformedIRText() throws {
        try assertFails([try write("graph @g {\n  %0 = frobnicate() : f32[2]\n}\n", "bad.gir"), "--dump-ir"], says: "bad.gir:2:")
        try assertFails([try write("graph @g {\n  %0 = relu(%7) : f32[2]\n}\n", "undef.gir"), "--dump-ir"], says: "undef.gir:2:")
    }

    func testIRFilesAreVerifiedBeforeAnyCommand() throws {
        // Each line parses; only the whole-graph check sees the name used twice.
        let twice = try write("graph @g {\n  %0 = input() {name=\"x\"} : f32[2]\n  %1 = param() {name=\"x\", init=\"zeros\"} : f32[2]\n}\n", "twice.gir")
        try assertFails([twice, "--count-params"], says: "name \"x\" is already used")
    }

    func testEmptyPassNameAndUnwritableResultsFolder() throws {
        try assertFails(["graphs/q1_mlp.swiftgraph", "--dump-ir", "--passes", "verify,,dce"], says: "--passes 'verify,,dce': empty pass name")
        // A regular file where the results folder should go: refused before any data is read.
        let file = try write("not a folder", "results")
        try assertFails(["graphs/cnn.swiftgraph", "--train", "--out", file + "/sub", "--data", "/nonexistent"], says: "--out \(file)/sub: cannot create the results folder")
    }

    /// `--isa` takes only a name it knows, and never more than the CPU has (this test asks for
    /// one above the best it reports when there is one).
    func testInstructionSetLimitIsCheckedAgainstTheCPU() throws {
        try assertFails(["graphs/cnn.swiftgraph", "--count-params", "--isa", "avx9"], says: "--isa must be 'avx512', 'avx2' or 'sse2', got 'avx9'")
        let r = try CLI.run(["graphs/cnn.swiftgraph", "--count-params", "--isa", "sse2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        if !flags.contains(" avx512f") {
            try assertFails(["graphs/cnn.swiftgraph", "--count-params", "--isa", "avx512"], says: "--isa avx512: this CPU's best is")
        }
    }

    func testMissingFilesAndDirectories() throws {
        try assertFails(["/nonexistent/model.swiftgraph", "--count-params"], says: "cannot read")
        try assertFails(["/tmp", "--count-params"], says: "/tmp")
    }

    func testBadFlags() throws {
        try assertFails(["graphs/cnn.swiftgraph", "--train", "--lr", "abc"], says: "--lr")
        try assertFails(["graphs/cnn.swiftgraph", "--train", "--epochs", "0"], says: "--epochs")
        try assertFails(["graphs/cnn.swiftgraph", "--train", "--epochs", "9223372036854775807"], says: "--epochs")
        try assertFails(["graphs/cnn.swiftgraph", "--train", "--batch-size", "9223372036854775807"], says: "--batch-size")
        try assertFails(["graphs/cnn.swiftgraph", "--train", "--optimizer", "rmsprop"], says: "--optimizer")
        try assertFails(["graphs/cnn.swiftgraph", "--train", "--dropout", "1.5"], says: "--dropout")
        try assertFails(["graphs/cnn.swiftgraph"], says: "nothing to do")
        try assertFails(["graphs/cnn.swiftgraph", "--eval"], says: "--weights")
        try assertFails([], says: "model file")
    }

    func testMissingOrCorruptData() throws {
        let dir = try CLI.temporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try assertFails(["graphs/cnn.swiftgraph", "--train", "--data", dir.path], says: "train-images-idx3-ubyte")
        // Truncated gzip files where the four IDX files should be: the error names one of them.
        for name in ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"] {
            try Data([0x1f, 0x8b, 0x08, 0x00, 1, 2, 3]).write(to: dir.appendingPathComponent(name + ".gz"))
        }
        try assertFails(["graphs/cnn.swiftgraph", "--train", "--data", dir.path], says: "-ubyte.gz: ")
    }

    func testHelpDocumentsEveryFlag() throws {
        let r = try CLI.run(["--help"])
        XCTAssertEqual(r.status, 0)
        for flag in ["--count-params", "--dump-ir", "--after", "--passes", "--train", "--eval", "--weights", "--epochs", "--lr",
                     "--batch-size", "--optimizer", "--momentum", "--dropout", "--l2", "--grad-clip", "--seed", "--threads",
                     "--data", "--out", "--mode", "--time-passes"] {
            XCTAssertTrue(r.stdout.contains(flag), "--help does not mention \(flag)")
        }
    }
}
