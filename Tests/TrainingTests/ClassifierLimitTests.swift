import Datasets
import Foundation
import Training
import XCTest

/// `--limit N` on Fashion-MNIST: the first N images of the training, dev and test splits.
final class ClassifierLimitTests: XCTestCase {
    func testLimitTakesTheFirstImagesOfEachSplit() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-limit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        // The homework's Fashion-MNIST.npz layout with 5 train, 4 dev and 4 test images.
        var arrays: [(name: String, array: NPYArray)] = []
        for (split, n) in [("train", 5), ("dev", 4), ("test", 4)] {
            let pixels = (0..<(n * 784)).map { Double($0 % 256) / 256 }
            let labels = (0..<n).map { Int64($0 % 10) }
            arrays.append(("X" + split, NPYArray(dtype: .f64, shape: [n, 1, 28, 28], raw: pixels.withUnsafeBytes { Data($0) }, source: split)))
            arrays.append(("y" + split, NPYArray(dtype: .i64, shape: [n], raw: labels.withUnsafeBytes { Data($0) }, source: split)))
        }
        let data = dir + "/Fashion-MNIST.npz"
        try NPZWriter.write(arrays, to: data)
        let cnn = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("graphs/cnn.swiftgraph").path
        let log = CollectingReporter()
        try Training.run(file: cnn, overrides: RecipeOverrides(epochs: 1, batchSize: 2, threads: 1),
                         options: TrainingOptions(out: dir + "/results", data: data, limit: 3), reporter: log)
        XCTAssertTrue(log.logLines.contains { $0.contains("on Fashion-MNIST (3 train / 3 dev / 3 test)") }, log.logLines.joined(separator: "\n"))
    }
}
