import Datasets
import Foundation
import Training
import XCTest

/// Issue 14 as a user meets it through the binary: a NaN located at its DSL line with exit 1,
/// a locked results folder naming the run that holds it, a pass's complaint about a `.gir`
/// node located at its `.gir` line.
final class ReliabilityCLITests: XCTestCase {
    func testAPlantedNaNIsReportedAtItsLineWithExitOne() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("planted.swiftgraph").path
        try """
        let image = input("image", [batch, 1, 28, 28])
        let label = input("label", [batch], .int64)
        let shifted = exp(image) * log(image - 2.0)
        let head = Sequential {
            Flatten()
            Linear(10)
            LogSoftmax()
        }
        let logProbs = head(shifted)
        output("logProbs", logProbs)
        loss(nllLoss(logProbs, label))
        train(on: .fashionMNIST, epochs: 1, batchSize: 8, lr: 0.01)
        """.write(toFile: model, atomically: true, encoding: .utf8)
        let npz = try writeTinyFashionMNIST(in: dir.path)
        let r = try CLI.run([model, "--train", "--data", npz, "--out", dir.appendingPathComponent("out").path, "--threads", "1"])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(model):3:28: error: log made"), r.stderr)
        XCTAssertTrue(r.stderr.contains("let shifted = exp(image) * log(image - 2.0)\n" + String(repeating: " ", count: 27) + "^"), r.stderr)
        XCTAssertTrue(r.stderr.contains("log made"), r.stderr)
        XCTAssertTrue(r.stderr.contains("log needs values above 0"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("out/metrics.json").path))
    }

    func testCheckNumericsTakesThreeModes() throws {
        let r = try CLI.run(["graphs/cnn.swiftgraph", "--train", "--check-numerics", "sometimes"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--check-numerics must be 'auto', 'always' or 'off', got 'sometimes'"), r.stderr)
    }

    func testASecondRunOnALockedResultsFolderNamesTheFirst() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("results").path
        let held = try ResultsFolder(out)   // this process plays the first run
        defer { held.discard() }
        let r = try CLI.run(["graphs/q1_attention.swiftgraph", "--attention-study", "--out", out])
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("--out \(out) is in use by another graphc run (process \(getpid()))"), r.stderr)
    }

    func testAPassComplaintAboutAGirNodeIsLocatedAtTheGirLine() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gir = dir.appendingPathComponent("nograd.gir").path
        try """
        graph @g {
          %0 = input() {name="x"} : f32[2,4] loc("m.swiftgraph":2:9)
          %1 = param() {name="w", init="zeros"} : f32[2,4] loc("m.swiftgraph":3:9)
          %2 = relu_grad(%0, %1) : f32[2,4] loc("m.swiftgraph":4:9)
          %3 = mean(%2) {axes=[0,1]} : f32[] loc("m.swiftgraph":5:9)
          loss = %3
        }
        """.write(toFile: gir, atomically: true, encoding: .utf8)
        let r = try CLI.run([gir, "--dump-ir"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.hasPrefix("\(gir):4:3: error: autodiff: relu_grad"), r.stderr)
        XCTAssertTrue(r.stderr.contains("  %2 = relu_grad(%0, %1)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("note: the node comes from m.swiftgraph:4:9"), r.stderr)
    }

    /// The homework's npz layout, 16 train / 8 dev / 8 test images.
    func writeTinyFashionMNIST(in dir: String) throws -> String {
        var arrays: [(name: String, array: NPYArray)] = []
        for (split, n) in [("train", 16), ("dev", 8), ("test", 8)] {
            let pixels = (0..<(n * 784)).map { Double($0 % 256) / 256 }
            arrays.append(("X" + split, NPYArray(dtype: .f64, shape: [n, 1, 28, 28], raw: pixels.withUnsafeBytes { Data($0) }, source: split)))
            arrays.append(("y" + split, NPYArray(dtype: .i64, shape: [n], raw: (0..<n).map { Int64($0 % 10) }.withUnsafeBytes { Data($0) }, source: split)))
        }
        let path = dir + "/Fashion-MNIST.npz"
        try NPZWriter.write(arrays, to: path)
        return path
    }
}
