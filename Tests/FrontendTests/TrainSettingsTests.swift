import GraphIR
import XCTest
@testable import Frontend

/// `train(...)` checks its arguments by the training settings' rules (as a .gir meta line and
/// the command line's flags do), with located errors.
final class TrainSettingsTests: XCTestCase {
    func assertRefused(_ args: String, says text: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let d = expectDiagnostic("let x = input(\"x\", [batch, 4])\noutput(\"y\", x)\ntrain(on: .fashionMNIST, \(args))\n", file: file, line: line) else { return }
        XCTAssertEqual(d.location.line, 3, file: file, line: line)
        XCTAssertTrue(d.message.contains(text), "expected '\(text)' in: \(d.message)", file: file, line: line)
        XCTAssertNotNil(d.sourceLine, file: file, line: line)
    }

    func testOutOfRangeSettingsAreLocatedErrors() {
        assertRefused("epochs: 0", says: "argument `epochs:` of `train` must be an integer between 1 and 1000000, got 0")
        assertRefused("epochs: \"many\"", says: "argument `epochs:` of `train` must be an integer")
        assertRefused("batchSize: 100000000", says: "must be an integer between 1 and 16777216")
        assertRefused("lr: 0", says: "argument `lr:` of `train` must be a finite positive number")
        assertRefused("dropout: 1.5", says: "argument `dropout:` of `train` must be a number in [0.0, 1.0)")
        assertRefused("metric: .f1", says: "unknown metric `.f1`")
    }

    func testValidSettingsLower() throws {
        let g = try Frontend.lower(source: "let x = input(\"x\", [batch, 4])\noutput(\"y\", x)\nloss(x.mean())\ntrain(on: .fashionMNIST, metric: .accuracy, epochs: 2, lr: 1, momentum: 0)\n",
                                   file: "ok.swiftgraph")
        XCTAssertEqual(g.metadata.int("epochs"), 2)
        XCTAssertEqual(g.metadata.float("lr"), 1)
        XCTAssertEqual(FrontendOptions().metrics, ["accuracy", "bleu4", "loss"])
    }
}
