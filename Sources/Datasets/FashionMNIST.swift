import GraphIR
import Foundation

/// Images and their class labels, images as one contiguous N x C x H x W float buffer.
public struct ImageClassificationSplit {
    public var images: [Float]
    public var labels: [Int64]
    public var imageShape: [Int]

    public var count: Int { labels.count }
    public var imageSize: Int { imageShape.reduce(1, *) }

    public init(images: [Float], labels: [Int64], imageShape: [Int]) {
        self.images = images
        self.labels = labels
        self.imageShape = imageShape
    }

    /// Pixels of image `i` (`0..<count`).
    public func image(_ i: Int) -> ArraySlice<Float> {
        images[(i * imageSize)..<((i + 1) * imageSize)]
    }

    /// The first `n` images and labels (all of them when there are fewer).
    public func prefix(_ n: Int) -> ImageClassificationSplit {
        let kept = min(max(n, 0), count)
        return ImageClassificationSplit(images: Array(images[..<(kept * imageSize)]), labels: Array(labels[..<kept]), imageShape: imageShape)
    }

    /// The images and labels at `indices`, in that order.
    public func subset(_ indices: [Int]) -> ImageClassificationSplit {
        let size = imageSize
        var out = [Float]()
        out.reserveCapacity(indices.count * size)
        for i in indices { out.append(contentsOf: images[(i * size)..<((i + 1) * size)]) }
        return ImageClassificationSplit(images: out, labels: indices.map { labels[$0] }, imageShape: imageShape)
    }
}

/// Fashion-MNIST split the way the homework splits it: the official 60,000 training images
/// become 50,000 train + 10,000 dev, the official 10,000 test images are the test set, and
/// pixels are divided by 256 (not 255).
public struct FashionMNIST {
    public var train: ImageClassificationSplit
    public var dev: ImageClassificationSplit
    public var test: ImageClassificationSplit

    public static let classCount = 10
    public static let imageShape = [1, 28, 28]
    /// Where Debian's `dataset-fashion-mnist` package installs the official files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"
    public static let devCount = 10_000
    public static let trainCount = 50_000

    /// The first `n` images of each split, for quick runs (`--limit n`): train, dev and test
    /// alike, each taken after the homework's split.
    public func prefix(_ n: Int) -> FashionMNIST {
        FashionMNIST(train: train.prefix(n), dev: dev.prefix(n), test: test.prefix(n))
    }

    /// `numpy.random.RandomState(42).permutation(60000)`, which is what
    /// `sklearn.train_test_split(train_size=50000, test_size=10000, random_state=42)` uses:
    /// dev = perm[:10000], train = perm[10000:].
    public static func homeworkPermutation(count: Int = 60_000) -> [Int] {
        var rng = NumpyRandomState(seed: 42)
        return rng.permutation(count)
    }

    /// Loads the four official IDX files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
    /// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each `.gz` or plain) from `directory`.
    public static func load(directory: String = defaultDirectory) throws -> FashionMNIST {
        let trainAll = try loadIDXPair(directory: directory, prefix: "train")
        let test = try loadIDXPair(directory: directory, prefix: "t10k")
        guard trainAll.count == devCount + trainCount else {
            throw FileError(path(directory, "train-labels-idx1-ubyte"),
                            "expected \(devCount + trainCount) training images for the homework split, found \(trainAll.count)")
        }
        let perm = homeworkPermutation(count: trainAll.count)
        return FashionMNIST(train: trainAll.subset(Array(perm[devCount...])),
                            dev: trainAll.subset(Array(perm[..<devCount])),
                            test: test)
    }

    /// Loads the homework's `Fashion-MNIST.npz` (keys Xtrain, ytrain, Xdev, ydev, Xtest, ytest;
    /// X float64 (N,1,28,28) already divided by 256, y int64), which is already split.
    public static func load(npz: String) throws -> FashionMNIST {
        let archive = try NPZArchive(path: npz)
        func split(_ name: String) throws -> ImageClassificationSplit {
            let x = try archive.array("X" + name)
            let y = try archive.array("y" + name)
            guard x.shape.count == 4, Array(x.shape[1...]) == imageShape else {
                throw FileError(npz, "X\(name): expected shape (N, 1, 28, 28), found \(x.shape)")
            }
            guard y.shape == [x.shape[0]] else {
                throw FileError(npz, "y\(name): expected shape (\(x.shape[0]),) to match X\(name), found \(y.shape)")
            }
            let labels = try y.int64s()
            try checkLabels(labels, file: npz, what: "y\(name)")
            return ImageClassificationSplit(images: x.floats(), labels: labels, imageShape: imageShape)
        }
        return FashionMNIST(train: try split("train"), dev: try split("dev"), test: try split("test"))
    }

    private static func loadIDXPair(directory: String, prefix: String) throws -> ImageClassificationSplit {
        let imagesPath = try locate(directory, "\(prefix)-images-idx3-ubyte")
        let labelsPath = try locate(directory, "\(prefix)-labels-idx1-ubyte")
        let images = try IDXReader.read(path: imagesPath, expectedRank: 3)
        let labels = try IDXReader.read(path: labelsPath, expectedRank: 1)
        guard images.dims[1] == 28, images.dims[2] == 28 else {
            throw FileError(imagesPath, "expected 28x28 images, found \(images.dims[1])x\(images.dims[2])")
        }
        guard images.dims[0] == labels.dims[0] else {
            throw FileError(labelsPath, "wrong count: \(labels.dims[0]) labels for \(images.dims[0]) images in \((imagesPath as NSString).lastPathComponent)")
        }
        let values = labels.bytes.map { Int64($0) }
        try checkLabels(values, file: labelsPath, what: "labels")
        // The homework scales by 256, so 255 becomes 0.99609375, not 1.
        let pixels = images.bytes.map { Float($0) / 256 }
        return ImageClassificationSplit(images: pixels, labels: values, imageShape: imageShape)
    }

    private static func checkLabels(_ labels: [Int64], file: String, what: String) throws {
        if let i = labels.firstIndex(where: { $0 < 0 || $0 >= Int64(classCount) }) {
            throw FileError(file, "\(what)[\(i)] = \(labels[i]) is not a class in 0..<\(classCount)")
        }
    }

    /// `name.gz` when present, else `name`.
    private static func locate(_ directory: String, _ name: String) throws -> String {
        let gz = path(directory, name + ".gz")
        if FileManager.default.fileExists(atPath: gz) { return gz }
        let plain = path(directory, name)
        if FileManager.default.fileExists(atPath: plain) { return plain }
        throw FileError(gz, "no such file (nor \(name)) in \(directory)")
    }

    private static func path(_ directory: String, _ name: String) -> String {
        (directory as NSString).appendingPathComponent(name)
    }
}
