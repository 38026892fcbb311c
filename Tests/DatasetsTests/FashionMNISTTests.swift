import Foundation
import XCTest
@testable import Datasets

final class FashionMNISTTests: XCTestCase {
    func testLoadsOfficialFilesWithHomeworkSplit() throws {
        let dir = FashionMNIST.defaultDirectory
        guard FileManager.default.fileExists(atPath: dir + "/train-images-idx3-ubyte.gz")
            || FileManager.default.fileExists(atPath: dir + "/train-images-idx3-ubyte") else {
            print("skipping: Fashion-MNIST is not installed in \(dir) (Debian package dataset-fashion-mnist)")
            throw XCTSkip("Fashion-MNIST not installed in \(dir)")
        }
        let data = try FashionMNIST.load(directory: dir)
        XCTAssertEqual(data.train.count, 50_000)
        XCTAssertEqual(data.dev.count, 10_000)
        XCTAssertEqual(data.test.count, 10_000)
        for split in [data.train, data.dev, data.test] {
            XCTAssertEqual(split.imageShape, [1, 28, 28])
            XCTAssertEqual(split.images.count, split.count * 784)
            XCTAssertEqual(Set(split.labels), Set(0..<10))
        }
        // Compare against the raw official file: dev[0] is official image perm[0], train[0] is perm[10000].
        let raw = try IDXReader.read(path: dir + "/train-images-idx3-ubyte.gz", expectedRank: 3)
        let rawLabels = try IDXReader.read(path: dir + "/train-labels-idx1-ubyte.gz", expectedRank: 1)
        let perm = FashionMNIST.homeworkPermutation()
        for (split, index, official) in [(data.dev, 0, perm[0]), (data.train, 0, perm[10_000]), (data.dev, 9_999, perm[9_999])] {
            let expected = raw.bytes[(official * 784)..<((official + 1) * 784)].map { Float($0) / 256 }
            XCTAssertEqual(Array(split.image(index)), expected)
            XCTAssertEqual(split.labels[index], Int64(rawLabels.bytes[official]))
        }
        // /256: the brightest pixel is 255/256, never 1.
        XCTAssertEqual(data.test.images.max(), 255 / 256)
        XCTAssertEqual(data.test.images.min(), 0)
        let firstTest = try IDXReader.read(path: dir + "/t10k-images-idx3-ubyte.gz", expectedRank: 3)
        XCTAssertEqual(Array(data.test.image(0)), firstTest.bytes[0..<784].map { Float($0) / 256 })
    }

    func testDirectoryErrors() throws {
        let dir = try TestFiles.tempDirectory()
        TestFiles.assertDataError(["train-images-idx3-ubyte.gz", "no such file"]) { _ = try FashionMNIST.load(directory: dir) }
        let images = TestFiles.idx(dims: [3, 28, 28], data: [UInt8](repeating: 9, count: 3 * 784))
        _ = try TestFiles.write(images, dir, "train-images-idx3-ubyte")
        _ = try TestFiles.write(TestFiles.gzip(TestFiles.idx(dims: [2], data: [1, 2])), dir, "train-labels-idx1-ubyte.gz")
        _ = try TestFiles.write(images, dir, "t10k-images-idx3-ubyte")
        _ = try TestFiles.write(TestFiles.idx(dims: [3], data: [0, 1, 2]), dir, "t10k-labels-idx1-ubyte")
        TestFiles.assertDataError(["train-labels-idx1-ubyte.gz", "wrong count: 2 labels for 3 images"]) { _ = try FashionMNIST.load(directory: dir) }

        _ = try TestFiles.write(TestFiles.gzip(TestFiles.idx(dims: [3], data: [1, 12, 2])), dir, "train-labels-idx1-ubyte.gz")
        TestFiles.assertDataError(["train-labels-idx1-ubyte.gz", "labels[1] = 12"]) { _ = try FashionMNIST.load(directory: dir) }

        _ = try TestFiles.write(TestFiles.gzip(TestFiles.idx(dims: [3], data: [1, 9, 2])), dir, "train-labels-idx1-ubyte.gz")
        TestFiles.assertDataError(["train-labels-idx1-ubyte", "expected 60000 training images", "found 3"]) { _ = try FashionMNIST.load(directory: dir) }

        _ = try TestFiles.write(TestFiles.idx(dims: [3, 28, 27], data: [UInt8](repeating: 9, count: 3 * 756)), dir, "t10k-images-idx3-ubyte")
        TestFiles.assertDataError(["t10k-images-idx3-ubyte", "expected 28x28 images, found 28x27"]) { _ = try FashionMNIST.load(directory: dir) }
    }

    func homeworkNPZ(dropping: String? = nil, xShape: [Int] = [2, 1, 28, 28], yDescr: String = "<i8") -> [UInt8] {
        var members: [TestFiles.ZipMember] = []
        for (name, n) in [("train", 2), ("dev", 1), ("test", 2)] {
            var shape = xShape
            shape[0] = n
            let count = shape.reduce(1, *)
            let x = (0..<count).map { Double(($0 + n) % 256) / 256 }
            let y: [Int64] = (0..<n).map { Int64(($0 + n) % 10) }
            let yData = yDescr == "<i8" ? TestFiles.bytes(of: y) : TestFiles.bytes(of: y.map { Double($0) })
            members.append(.init(name: "X\(name).npy", content: TestFiles.npy(descr: "<f8", shape: shape, data: TestFiles.bytes(of: x)), deflated: true))
            members.append(.init(name: "y\(name).npy", content: TestFiles.npy(descr: yDescr, shape: [n], data: yData), deflated: true))
        }
        return TestFiles.zip(members.filter { $0.name != dropping })
    }

    func testPrefixKeepsTheFirstImagesOfEachSplit() throws {
        let dir = try TestFiles.tempDirectory()
        let data = try FashionMNIST.load(npz: try TestFiles.write(homeworkNPZ(), dir, "Fashion-MNIST.npz"))
        let one = data.prefix(1)
        XCTAssertEqual([one.train.count, one.dev.count, one.test.count], [1, 1, 1])
        XCTAssertEqual(one.train.labels, [2])
        XCTAssertEqual(Array(one.train.image(0)), Array(data.train.image(0)))
        XCTAssertEqual(one.test.images.count, 784)
        let more = data.prefix(5)
        XCTAssertEqual([more.train.count, more.dev.count, more.test.count], [2, 1, 2], "a shorter split is kept whole")
        XCTAssertEqual(more.train.images, data.train.images)
    }

    func testLoadsHomeworkNPZ() throws {
        let dir = try TestFiles.tempDirectory()
        let path = try TestFiles.write(homeworkNPZ(), dir, "Fashion-MNIST.npz")
        let data = try FashionMNIST.load(npz: path)
        XCTAssertEqual([data.train.count, data.dev.count, data.test.count], [2, 1, 2])
        XCTAssertEqual(data.dev.labels, [1])
        XCTAssertEqual(data.train.labels, [2, 3])
        XCTAssertEqual(data.train.images.count, 2 * 784)
        XCTAssertEqual(data.train.images[1], 3 / 256)
        XCTAssertEqual(data.train.image(1).first, Float(786 % 256) / 256)
    }

    func testNPZErrors() throws {
        let dir = try TestFiles.tempDirectory()
        let missing = try TestFiles.write(homeworkNPZ(dropping: "ydev.npy"), dir, "missing.npz")
        TestFiles.assertDataError(["missing.npz", "missing key 'ydev'"]) { _ = try FashionMNIST.load(npz: missing) }
        let shape = try TestFiles.write(homeworkNPZ(xShape: [2, 28, 28, 1]), dir, "shape.npz")
        TestFiles.assertDataError(["shape.npz", "Xtrain: expected shape (N, 1, 28, 28)"]) { _ = try FashionMNIST.load(npz: shape) }
        let floats = try TestFiles.write(homeworkNPZ(yDescr: "<f8"), dir, "floaty.npz")
        TestFiles.assertDataError(["floaty.npz", "integer"]) { _ = try FashionMNIST.load(npz: floats) }
        TestFiles.assertDataError(["absent.npz", "no such file"]) { _ = try FashionMNIST.load(npz: dir + "/absent.npz") }
    }
}
