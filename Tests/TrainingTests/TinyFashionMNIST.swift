import Datasets
import Foundation
import XCTest

/// The homework's Fashion-MNIST.npz layout with a few images per split, for runs that only
/// need the training loop to go round.
enum TinyFashionMNIST {
    /// Writes the file into `dir` and returns its path.
    static func write(in dir: String, train: Int = 5, dev: Int = 4, test: Int = 4) throws -> String {
        var arrays: [(name: String, array: NPYArray)] = []
        for (split, n) in [("train", train), ("dev", dev), ("test", test)] {
            let pixels = (0..<(n * 784)).map { Double($0 % 256) / 256 }
            let labels = (0..<n).map { Int64($0 % 10) }
            arrays.append(("X" + split, NPYArray(dtype: .f64, shape: [n, 1, 28, 28], raw: pixels.withUnsafeBytes { Data($0) }, source: split)))
            arrays.append(("y" + split, NPYArray(dtype: .i64, shape: [n], raw: labels.withUnsafeBytes { Data($0) }, source: split)))
        }
        let path = dir + "/Fashion-MNIST.npz"
        try NPZWriter.write(arrays, to: path)
        return path
    }

    /// A fresh temporary folder, removed when `test` ends.
    static func temporaryFolder(removedAfter test: XCTestCase) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-training-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    static let cnn = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("graphs/cnn.swiftgraph").path
}
