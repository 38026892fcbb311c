import GraphIR
import Foundation

/// The Sydney-Captions folder: `dataset.json`, `datasets/{train,val,test,vocab_info}.json` and
/// `images/N.tif`, loaded and cross-checked (every split image exists in dataset.json, every
/// training caption fits in max_len).
public struct SydneyCaptions: Sendable {
    /// Where the data lives when no --data is given: ../shared/data/sydney-captions from the
    /// current directory (the repository root during development).
    public static let defaultDirectory = "../shared/data/sydney-captions"

    public var directory: String
    public var vocabulary: Vocabulary
    public var train: CaptionsTrain
    public var val: CaptionsEval
    public var test: CaptionsEval
    public var dataset: KarpathyDataset

    public var imagesDirectory: String { (directory as NSString).appendingPathComponent("images") }

    public func imagePath(_ imageName: String) -> String {
        (imagesDirectory as NSString).appendingPathComponent(imageName)
    }

    /// `"219.tif"` -> 219; the features row of an image is its number - 1. Nil for other names.
    public static func imageNumber(_ imageName: String) -> Int? {
        guard imageName.hasSuffix(".tif") else { return nil }
        let stem = imageName.dropLast(4)
        guard let n = Int(stem), n >= 1, String(n) == stem else { return nil }
        return n
    }

    public static func load(directory: String = defaultDirectory) throws -> SydneyCaptions {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw FileError(directory, "Sydney-Captions folder not found (expected dataset.json, datasets/, images/ inside; pass --data)")
        }
        let dir = directory as NSString
        let splits = dir.appendingPathComponent("datasets") as NSString
        let trainPath = splits.appendingPathComponent("train.json")
        let vocab = try Vocabulary.load(path: splits.appendingPathComponent("vocab_info.json"))
        let train = try CaptionsTrain.load(path: trainPath)
        let valPath = splits.appendingPathComponent("val.json")
        let testPath = splits.appendingPathComponent("test.json")
        let val = try CaptionsEval.load(path: valPath)
        let test = try CaptionsEval.load(path: testPath)
        let datasetPath = dir.appendingPathComponent("dataset.json")
        let dataset = try KarpathyDataset.load(path: datasetPath)

        let known = Set(dataset.images.map(\.filename))
        func check(_ names: [String], _ file: String, _ key: String) throws {
            for (i, name) in names.enumerated() {
                guard known.contains(name) else {
                    throw FileError(file, "\(key)[\(i)] \"\(name)\" is not an image of dataset.json")
                }
                guard imageNumber(name) != nil else {
                    throw FileError(file, "\(key)[\(i)] \"\(name)\" is not named <number>.tif")
                }
            }
        }
        try check(train.imageNames, trainPath, "images_names")
        try check(val.imageNames, valPath, "images_names")
        try check(test.imageNames, testPath, "images_names")
        // Fails early, naming the caption, rather than in the middle of training.
        _ = try train.encoded(with: vocab, file: trainPath)
        return SydneyCaptions(directory: directory, vocabulary: vocab, train: train, val: val, test: test, dataset: dataset)
    }
}
