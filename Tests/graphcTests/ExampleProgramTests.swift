import Foundation
import XCTest

/// Examples/TrainCNN, the library example the README shows, run as a user runs it.
final class ExampleProgramTests: XCTestCase {
    func testTrainCNNLowersTheLossAndBeatsChance() throws {
        let data = "/usr/share/datasets/fashion-mnist"
        guard FileManager.default.fileExists(atPath: data + "/train-images-idx3-ubyte.gz") else {
            throw XCTSkip("no Fashion-MNIST at \(data) (scripts/install-deps.sh installs it)")
        }
        let r = try CLI.run([data, "300", "1000"], program: "TrainCNN")
        XCTAssertEqual(r.status, 0, r.stderr)
        // "step 50: mean loss 2.27..." every 50 steps, then "dev accuracy 0.64 over 1000 images".
        let losses = r.stdout.split(separator: "\n").filter { $0.hasPrefix("step ") }.compactMap { line in
            line.split(separator: " ").last.flatMap { Double($0) }
        }
        XCTAssertEqual(losses.count, 6, r.stdout)
        let first = try XCTUnwrap(losses.first), last = try XCTUnwrap(losses.last)
        XCTAssertLessThan(last, first - 0.5, "the loss must fall over 300 steps: \(losses)")
        let accuracyLine = try XCTUnwrap(r.stdout.split(separator: "\n").first { $0.hasPrefix("dev accuracy ") }, r.stdout)
        let accuracy = try XCTUnwrap(Double(accuracyLine.split(separator: " ")[2]), String(accuracyLine))
        XCTAssertGreaterThan(accuracy, 0.5, "ten classes: chance is 0.1")
    }
}
