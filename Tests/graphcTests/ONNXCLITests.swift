import Foundation
import XCTest

/// `.onnx` is a model format for every command, next to `.swiftgraph` and `.gir`.
final class ONNXCLITests: XCTestCase {
    let classifier = "Tests/ONNXTests/Fixtures/tiny_classifier/model.onnx"

    func testCountParamsNamesTheInitializers() throws {
        let r = try CLI.run([classifier, "--count-params"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("fc1.weight"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Trainable params: 6,802"), r.stdout)
    }

    func testDumpIRLocatesNodesAtTheirONNXNode() throws {
        let r = try CLI.run([classifier, "--dump-ir"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains(#"node \"/conv1/Conv\" (Conv)":0:0)"#), r.stdout)
        // The dump is a .gir model of its own.
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let gir = dir.appendingPathComponent("classifier.gir")
        try r.stdout.write(to: gir, atomically: true, encoding: .utf8)
        XCTAssertEqual(try CLI.run([gir.path, "--dump-ir", "--passes", "verify"]).status, 0)
    }

    func testRunOnInputsByName() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.npz").path
        let r = try CLI.run([classifier, "--run", "--batch-size", "2", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("log_probs | (2, 10)"), r.stdout)
        XCTAssertTrue(r.stderr.contains("the model's initializers"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out))
    }

    func testErrorsNameTheNodeAndFlagsAreChecked() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = try Data(contentsOf: CLI.repoRoot.appendingPathComponent(classifier))
        let cut = dir.appendingPathComponent("cut.onnx")
        try bytes.prefix(bytes.count / 3).write(to: cut)
        let r = try CLI.run([cut.path, "--count-params"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("cut.onnx: not an ONNX model"), r.stderr)

        let noData = try CLI.run([classifier, "--train", "--out", dir.appendingPathComponent("results").path])
        XCTAssertEqual(noData.status, 1)
        XCTAssertTrue(noData.stderr.contains("give --dataset fashion-mnist"), noData.stderr)
        let wrongFormat = try CLI.run(["graphs/cnn.swiftgraph", "--eval", "--dataset", "fashion-mnist"])
        XCTAssertNotEqual(wrongFormat.status, 0)
        XCTAssertTrue(wrongFormat.stderr.contains("go with an .onnx model"), wrongFormat.stderr)
        let badLoss = try CLI.run([classifier, "--eval", "--dataset", "fashion-mnist", "--loss", "mse"])
        XCTAssertTrue(badLoss.stderr.contains("--loss must be nll or cross-entropy"), badLoss.stderr)
    }
}
