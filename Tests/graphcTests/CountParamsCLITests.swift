import XCTest

/// `graphc FILE --count-params` prints the totals PyTorch's `sum(p.numel())` gives.
final class CountParamsCLITests: XCTestCase {
    let totals: [(String, String)] = [
        ("graphs/q1_cnn.swiftgraph", "10,298"),
        ("graphs/q1_mlp.swiftgraph", "236,310"),
        ("graphs/cnn.swiftgraph", "769,930"),
        ("graphs/caption_lstm.swiftgraph", "697,078"),
        ("graphs/caption_attention.swiftgraph", "1,298,467"),
        ("graphs/resnet18.swiftgraph", "11,176,512"),
    ]

    func testEveryHomeworkTotal() throws {
        for (file, total) in totals {
            let r = try CLI.run([file, "--count-params"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("Total params: \(total)\n"), "\(file):\n\(r.stdout)")
            XCTAssertTrue(r.stdout.contains("Trainable params: \(total)\n"), "\(file):\n\(r.stdout)")
        }
    }

    func testTableRowsUsePyTorchNamesAndShapes() throws {
        let r = try CLI.run(["graphs/cnn.swiftgraph", "--count-params"])
        XCTAssertTrue(r.stdout.contains("convblock1.0 (Conv2d)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("[B,16,28,28]"), r.stdout)
        XCTAssertTrue(r.stdout.contains("head.1 (Linear)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("691,800"), r.stdout)
    }

    func testBuffersAreNotParameters() throws {
        let r = try CLI.run(["graphs/resnet18.swiftgraph", "--count-params"])
        XCTAssertTrue(r.stdout.contains("Buffers (not trained): 9,600"), r.stdout)
    }

    func testTwoModelsAreCompared() throws {
        let r = try CLI.run(["graphs/q1_cnn.swiftgraph", "graphs/q1_mlp.swiftgraph", "--count-params"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("graphs/q1_mlp.swiftgraph: 236,310 = 22.9x graphs/q1_cnn.swiftgraph"), r.stdout)
    }
}
