import Foundation

/// `dataset.json` in the Karpathy layout: every image with its split and tokenised sentences.
public struct KarpathyDataset: Sendable, Equatable {
    public struct Sentence: Sendable, Equatable {
        public var tokens: [String]
        public var raw: String?
    }

    public struct Image: Sendable, Equatable {
        public var filename: String
        public var split: String
        public var imgid: Int
        public var sentences: [Sentence]
    }

    public var name: String?
    public var images: [Image]

    public func images(inSplit split: String) -> [Image] { images.filter { $0.split == split } }

    public static func load(path: String) throws -> KarpathyDataset {
        let root = try CaptionsJSONFile.parse(path: path)
        let name = try root.optionalMember("dataset")?.string()
        var images: [Image] = []
        var filenames = Set<String>()
        for node in try root.member("images").elements() {
            let filenameNode = try node.member("filename")
            let filename = try filenameNode.string()
            guard filenames.insert(filename).inserted else { throw filenameNode.error("\"\(filename)\" appears twice") }
            let split = try node.member("split").string()
            let imgid = try node.member("imgid").int()
            var sentences: [Sentence] = []
            for s in try node.member("sentences").elements() {
                sentences.append(Sentence(tokens: try s.member("tokens").strings(),
                                          raw: try s.optionalMember("raw")?.string()))
            }
            images.append(Image(filename: filename, split: split, imgid: imgid, sentences: sentences))
        }
        return KarpathyDataset(name: name, images: images)
    }
}
