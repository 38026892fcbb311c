import Foundation
@testable import Training
import XCTest

/// A classifier that reads its image only through a mean over non-batch axes has the image
/// taken reduced by `reduced-inputs`; the training job's interface check must judge the
/// shape the caller feeds ([batch, 1, 28, 28]), not the reduced one.
final class ReducedImageInputTests: XCTestCase {
    func testAClassifierReadingTheImageOnlyThroughItsMeanTrains() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("reduced-image-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let npz = try TinyFashionMNIST.write(in: dir, train: 8, dev: 4, test: 4)
        let model = dir + "/mean.swiftgraph"
        try NumericsCheckTests.model(line4: "let shifted = image.mean(axis: 2)").write(toFile: model, atomically: true, encoding: .utf8)
        try TrainingJob.run(file: model, overrides: RecipeOverrides(threads: 1), options: TrainingOptions(out: dir + "/out", data: npz))
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/out/metrics.json"))
    }
}
