import GraphIR
import Foundation

/// `datasets/train.json`: one entry per (image, caption) pair, captions wrapped in
/// `<start_seq>` .. `<end_seq>`.
public struct CaptionsTrain: Sendable, Equatable {
    public var imageNames: [String]
    public var captions: [[String]]

    public init(imageNames: [String], captions: [[String]]) {
        self.imageNames = imageNames
        self.captions = captions
    }

    public static func load(path: String) throws -> CaptionsTrain {
        let root = try CaptionsJSONFile.parse(path: path)
        let namesNode = try root.member("images_names")
        let names = try namesNode.strings()
        let capsNode = try root.member("captions_tokens")
        let capNodes = try capsNode.elements()
        guard capNodes.count == names.count else {
            throw FileError(path, "images_names has \(names.count) entries but captions_tokens has \(capNodes.count)")
        }
        var captions: [[String]] = []
        captions.reserveCapacity(capNodes.count)
        for node in capNodes {
            let tokens = try node.strings()
            guard tokens.first == Vocabulary.startToken, tokens.count >= 2, tokens.last == Vocabulary.endToken else {
                throw node.error("is not wrapped in \(Vocabulary.startToken) .. \(Vocabulary.endToken)")
            }
            captions.append(tokens)
        }
        return CaptionsTrain(imageNames: names, captions: captions)
    }

    /// Captions as ids padded to `vocab.maxLen` (row-major, count x maxLen) and their real
    /// lengths (with `<start_seq>` and `<end_seq>`); throws if a caption is longer than maxLen.
    public func encoded(with vocab: Vocabulary, file: String = "train.json") throws -> (ids: [Int64], lengths: [Int]) {
        // max_len sizes every row: a length beyond all the training text together is not this
        // dataset's (a corrupt vocab_info.json), and is refused before rows are allocated.
        let tokens = captions.reduce(0) { $0 + $1.count }
        guard vocab.maxLen <= max(tokens, 1) else {
            throw FileError(file, "max_len \(vocab.maxLen) of the vocabulary exceeds the \(tokens) tokens of all \(captions.count) training captions together")
        }
        var ids: [Int64] = []
        let (padded, overflow) = captions.count.multipliedReportingOverflow(by: vocab.maxLen)
        _ = try checkedAllocation(count: overflow ? Int.max : padded, itemSize: MemoryLayout<Int64>.size,
                                  what: "\(captions.count) captions padded to max_len \(vocab.maxLen)", file: file)
        ids.reserveCapacity(padded)
        var lengths: [Int] = []
        for (i, caption) in captions.enumerated() {
            guard caption.count <= vocab.maxLen else {
                throw FileError(file, "captions_tokens[\(i)] has \(caption.count) tokens, more than max_len \(vocab.maxLen)")
            }
            ids.append(contentsOf: vocab.encodePadded(caption))
            lengths.append(caption.count)
        }
        return (ids, lengths)
    }
}

/// `datasets/val.json` / `test.json`: images and, per image, its reference captions (plain
/// tokens, no start/end markers) for BLEU.
public struct CaptionsEval: Sendable, Equatable {
    public var imageNames: [String]
    public var refs: [String: [[String]]]

    public init(imageNames: [String], refs: [String: [[String]]]) {
        self.imageNames = imageNames
        self.refs = refs
    }

    /// The references of every image, in `imageNames` order.
    public var orderedRefs: [[[String]]] { imageNames.map { refs[$0] ?? [] } }

    public static func load(path: String) throws -> CaptionsEval {
        let root = try CaptionsJSONFile.parse(path: path)
        let names = try root.member("images_names").strings()
        var seen = Set<String>()
        for name in names where !seen.insert(name).inserted {
            throw FileError(path, "images_names lists \"\(name)\" twice")
        }
        let refsNode = try root.member("all_refs")
        var refs: [String: [[String]]] = [:]
        for (name, node) in try refsNode.members() {
            guard seen.contains(name) else { throw node.error("is not an image of images_names") }
            let sentences = try node.elements().map { try $0.strings() }
            guard !sentences.isEmpty else { throw node.error("has no reference captions") }
            refs[name] = sentences
        }
        if let missing = names.first(where: { refs[$0] == nil }) {
            throw refsNode.error("has no references for \"\(missing)\"")
        }
        return CaptionsEval(imageNames: names, refs: refs)
    }
}
