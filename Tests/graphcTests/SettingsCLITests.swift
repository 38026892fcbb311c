import Foundation
import XCTest

/// Flags are checked by the training settings' rules, negative numbers reach those rules,
/// inputs must be regular files, and a write past `ulimit -f` is an error with the file name.
final class SettingsCLITests: XCTestCase {
    func temporary() throws -> URL {
        let dir = try CLI.temporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func assertFails(_ args: [String], says text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLI.run(args)
        XCTAssertTrue(r.status == 1 || r.status == 64, "status \(r.status): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "expected '\(text)' in:\n\(r.stderr)", file: file, line: line)
        XCTAssertFalse(r.stderr.contains("Missing value"), r.stderr, file: file, line: line)
    }

    func testNegativeNumbersReachTheRangeCheck() throws {
        let model = "graphs/cnn.swiftgraph"
        try assertFails([model, "--train", "--lr", "-0.1"], says: "--lr must be a finite positive number, got -0.1")
        try assertFails([model, "--train", "--epochs", "-1"], says: "--epochs must be an integer between 1 and 1000000, got -1")
        try assertFails([model, "--train", "--batch-size", "-5"], says: "--batch-size must be an integer between 1 and 16777216, got -5")
        try assertFails([model, "--train", "--momentum", "-0.5"], says: "--momentum must be a number in [0.0, 1.0), got -0.5")
        try assertFails([model, "--train", "--dropout", "-0.1"], says: "--dropout must be a number in [0.0, 1.0), got -0.1")
        try assertFails([model, "--train", "--l2", "-1"], says: "--l2 must be a finite non-negative number, got -1")
        try assertFails([model, "--train", "--grad-clip", "-1"], says: "--grad-clip must be a finite positive number, got -1")
        try assertFails([model, "--train", "--threads", "-2"], says: "--threads must be an integer between 1 and 256, got -2")
    }

    func testSweepsAndInfiniteDecayAreRefused() throws {
        try assertFails(["graphs/cnn.swiftgraph", "--train", "--lr", "0.01,0.010"], says: "--lr gives 0.01 twice")
        try assertFails(["graphs/cnn.swiftgraph", "--train", "--l2", "inf"], says: "--l2 must be a finite non-negative number, got inf")
        try assertFails(["graphs/cnn.swiftgraph", "--train", "--optimizer", "rmsprop"], says: "--optimizer must be one of 'sgd', 'adam'")
    }

    func testAMetaLineBreakingTheRulesIsALocatedError() throws {
        let dir = try temporary()
        for (meta, text) in [("epochs=0", "epochs must be an integer between 1 and 1000000, got 0"),
                             ("batch_size=0", "batch_size must be"), ("batch_size=-4", "batch_size must be"),
                             ("epochs=\"many\"", "epochs must be an integer"), ("metric=\"f1\"", "metric must be one of")] {
            let path = dir.appendingPathComponent("m.gir").path
            try "graph @m {\n  meta {dataset=\"fashionMNIST\", \(meta)}\n}\n".write(toFile: path, atomically: true, encoding: .utf8)
            try assertFails([path, "--train"], says: "m.gir:2:3: error: meta: \(text)")
        }
    }

    func testDevicesAndFIFOsAreNotReadAsModels() throws {
        try assertFails(["/dev/zero", "--count-params"], says: "/dev/zero:1:1: error: cannot read the graph file: it is a device, not a regular file")
        try assertFails(["/dev/zero", "--dump-ir"], says: "it is a device, not a regular file")
        let dir = try temporary()
        let fifo = dir.appendingPathComponent("model.gir").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        // Without the check the open would block forever: nobody writes to the FIFO.
        try assertFails([fifo, "--dump-ir"], says: "it is a FIFO (named pipe), not a regular file")
        let dsl = dir.appendingPathComponent("model.swiftgraph").path
        XCTAssertEqual(mkfifo(dsl, 0o600), 0)
        try assertFails([dsl, "--count-params"], says: "it is a FIFO (named pipe), not a regular file")
    }

    func testAWritePastTheFileSizeLimitIsAnErrorNotASignal() throws {
        let dir = try temporary()
        let model = dir.appendingPathComponent("wide.swiftgraph").path
        try "let x = input(\"x\", [batch, 4000])\noutput(\"y\", relu(x))\n".write(toFile: model, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("y.npz").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        // 1 KiB may be written; the outputs need 16 KB.
        p.arguments = ["-c", "ulimit -f 1 && exec \"$0\" \"$1\" --run --out \"$2\"", CLI.binary.path, model, out]
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .exit, "killed by signal \(p.terminationStatus): \(e)")
        XCTAssertEqual(p.terminationStatus, 1, e)
        XCTAssertTrue(e.contains("y.npz: cannot write: File too large"), e)
    }
}

/// Batches too large for the memory budget are refused with the numbers before it is spent.
final class MemoryBudgetCLITests: XCTestCase {
    func assertFails(_ args: [String], says text: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let r = try CLI.run(args)
        XCTAssertTrue(r.status == 1 || r.status == 64, "status \(r.status): \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.contains(text), "expected '\(text)' in:\n\(r.stderr)", file: file, line: line)
    }

    func testAHugeBenchBatchIsRefusedBeforeAllocation() throws {
        try assertFails(["graphs/cnn.swiftgraph", "--bench", "--bench-batches", "100000000", "--max-memory", "8G"],
                        says: "--bench batch 100000000: input 'image' [100000000, 1, 28, 28] needs 313.6 GB (313600000000 bytes) of memory, more than the budget of 8.6 GB (8589934592 bytes) (--max-memory 8G)")
    }

    func testTheArenaForABatchIsCheckedAgainstMaxMemory() throws {
        try assertFails(["graphs/cnn.swiftgraph", "--run", "--batch-size", "5000", "--max-memory", "10M"],
                        says: "the plan for B=5000 needs")
        try assertFails(["graphs/cnn.swiftgraph", "--run", "--max-memory", "lots"], says: "--max-memory must be a positive size such as 4G or 500M, got 'lots'")
    }
}

/// Where messages point, what they show, and the folders checked before any work.
final class MessagesCLITests: XCTestCase {
    func temporary() throws -> URL {
        let dir = try CLI.temporaryDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    func run(_ args: [String]) throws -> String {
        let r = try CLI.run(args)
        XCTAssertEqual(r.status, 1, r.stderr)
        return r.stderr
    }

    func testGirErrorsPointAtTheGirLineWithTheDSLLocationAsANote() throws {
        let path = try temporary().appendingPathComponent("dup.gir").path
        try """
        graph @m {
          %0 = input() {name="x"} : f32[B,3] loc("m.swiftgraph":1:9)
          %1 = input() {name="x"} : f32[B,3] loc("m.swiftgraph":2:9)
          output "y" = %1
        }

        """.write(toFile: path, atomically: true, encoding: .utf8)
        let e = try run([path, "--dump-ir"])
        XCTAssertTrue(e.contains("dup.gir:3:3: error: verify: input %1: name \"x\" is already used by %0\n  %1 = input()"), e)
        XCTAssertTrue(e.contains("note: the node comes from m.swiftgraph:2:9"), e)
    }

    func testALocNamingAnotherFileShowsNoneOfItsContents() throws {
        let dir = try temporary()
        let secret = dir.appendingPathComponent("secret.txt").path
        try "root:x:0:0:SECRET\n".write(toFile: secret, atomically: true, encoding: .utf8)
        let path = dir.appendingPathComponent("l.gir").path
        // A graph the verifier refuses, at a node whose loc(...) names the other file.
        try "graph @m {\n  %0 = input() {name=\"x\"} : f32[B,3]\n  %1 = input() {name=\"x\"} : f32[B,3] loc(\"\(secret)\":1:1)\n  output \"y\" = %1\n}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        for command in ["--dump-ir", "--count-params", "--run"] {
            let e = try run([path, command])
            XCTAssertFalse(e.contains("SECRET"), e)
            XCTAssertTrue(e.contains("l.gir:3:3: error:"), e)
        }
    }

    func testSourceLinesAreEscapedAndCut() throws {
        let dir = try temporary()
        let nul = dir.appendingPathComponent("nul.swiftgraph").path
        try Data("let x = 1 +\u{0} 2\n".utf8).write(to: URL(fileURLWithPath: nul))
        let e = try run([nul, "--count-params"])
        XCTAssertFalse(e.contains("\u{0}"), "no raw NUL byte: \(e.debugDescription)")
        let long = dir.appendingPathComponent("long.swiftgraph").path
        try Data(("let x = " + String(repeating: "(", count: 300_000) + "\n").utf8).write(to: URL(fileURLWithPath: long))
        let l = try run([long, "--count-params"])
        XCTAssertLessThan(l.utf8.count, 2_000, String(l.prefix(400)))
    }

    func testCacheAndOutAreCheckedBeforeAnyWork() throws {
        let dir = try temporary()
        let data = dir.appendingPathComponent("data").path
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("cache-file").path
        try Data().write(to: URL(fileURLWithPath: file))
        let e = try run(["graphs/caption_lstm.swiftgraph", "--train", "--cache", file, "--data", data, "--out", dir.appendingPathComponent("r").path])
        XCTAssertTrue(e.contains("--cache \(file): is a file, not a folder"), e)
        let inside = data + "/results"
        let o = try run(["graphs/cnn.swiftgraph", "--train", "--data", data, "--out", inside])
        XCTAssertTrue(o.contains("--out \(inside) is inside the data folder \(data)"), o)
        XCTAssertFalse(FileManager.default.fileExists(atPath: inside), "nothing is written into the data folder")
        let p = try run(["graphs/cnn.swiftgraph", "--train", "--data", data, "--out", file])
        XCTAssertTrue(p.contains("--out \(file): is a file, not a folder"), p)
    }
}
