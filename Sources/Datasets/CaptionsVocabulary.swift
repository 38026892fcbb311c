import GraphIR
import Foundation

/// The caption vocabulary of `vocab_info.json`: token <-> id tables and the maximum caption
/// length (counting `<start_seq>` and `<end_seq>`). The four special tokens must be present;
/// the homework's file has `<#>` (pad) = 0, `<start_seq>` = 1, `<end_seq>` = 2, `<unk>` = 3.
public struct Vocabulary: Sendable, Equatable {
    public static let padToken = "<#>"
    public static let startToken = "<start_seq>"
    public static let endToken = "<end_seq>"
    public static let unkToken = "<unk>"

    public let tokenToId: [String: Int]
    /// Index = id.
    public let idToToken: [String]
    public let maxLen: Int
    public let pad: Int
    public let start: Int
    public let end: Int
    public let unk: Int

    public var size: Int { idToToken.count }

    /// Builds a vocabulary from tokens in id order; throws (naming `file`) if a special token is
    /// missing, a token repeats or `maxLen` is not positive.
    public init(tokens: [String], maxLen: Int, file: String = "vocabulary") throws {
        var table: [String: Int] = [:]
        for (id, token) in tokens.enumerated() {
            if let other = table[token] {
                throw FileError(file, "token \"\(token)\" has two ids, \(other) and \(id)")
            }
            table[token] = id
        }
        func special(_ t: String) throws -> Int {
            guard let id = table[t] else { throw FileError(file, "special token \(t) is missing") }
            return id
        }
        guard maxLen > 0 else { throw FileError(file, "max_len must be positive, got \(maxLen)") }
        self.tokenToId = table
        self.idToToken = tokens
        self.maxLen = maxLen
        self.pad = try special(Self.padToken)
        self.start = try special(Self.startToken)
        self.end = try special(Self.endToken)
        self.unk = try special(Self.unkToken)
    }

    /// Reads and cross-checks `vocab_info.json` (`vocab_size`, `max_len`, `token_to_id`,
    /// `id_to_token`): both tables must describe the same bijection onto 0..<vocab_size.
    public static func load(path: String) throws -> Vocabulary {
        let root = try CaptionsJSONFile.parse(path: path)
        let sizeNode = try root.member("vocab_size")
        let size = try sizeNode.int()
        guard size > 0 else { throw sizeNode.error("must be positive, got \(size)") }
        let maxLen = try root.member("max_len").int()

        // vocab_size is checked against the tables before the id table is sized by it.
        let toId = try root.member("token_to_id")
        let toIdMembers = try toId.members()
        guard toIdMembers.count == size else {
            throw toId.error("has \(toIdMembers.count) entries but vocab_size is \(size)")
        }
        var tokens = [String?](repeating: nil, count: size)
        for (token, node) in toIdMembers {
            let id = try node.int()
            guard id >= 0 && id < size else { throw node.error("id \(id) is out of range 0..<\(size)") }
            if let other = tokens[id] { throw node.error("reuses id \(id), already given to \"\(other)\"") }
            tokens[id] = token
        }

        let toToken = try root.member("id_to_token")
        let toTokenMembers = try toToken.members()
        guard toTokenMembers.count == size else {
            throw toToken.error("has \(toTokenMembers.count) entries but vocab_size is \(size)")
        }
        for (key, node) in toTokenMembers {
            guard let id = Int(key), String(id) == key else { throw node.error("key is not a decimal id") }
            guard id >= 0 && id < size else { throw node.error("id \(id) is out of range 0..<\(size)") }
            let token = try node.string()
            guard tokens[id] == token else {
                throw node.error("is \"\(token)\" but token_to_id gives id \(id) to \"\(tokens[id] ?? "nothing")\"")
            }
        }
        // Every slot is filled: `size` distinct ids in 0..<size were assigned above.
        return try Vocabulary(tokens: tokens.map { $0 ?? "" }, maxLen: maxLen, file: path)
    }

    /// Token ids; tokens not in the vocabulary become `<unk>`.
    public func encode(_ tokens: [String]) -> [Int64] {
        tokens.map { Int64(tokenToId[$0] ?? unk) }
    }

    /// `encode`, cut or padded with `<#>` to `length` (default `maxLen`).
    public func encodePadded(_ tokens: [String], length: Int? = nil) -> [Int64] {
        let n = max(0, length ?? maxLen)
        var ids = Array(encode(tokens).prefix(n))
        ids.append(contentsOf: repeatElement(Int64(pad), count: n - ids.count))
        return ids
    }

    /// Tokens up to (not including) the first `<end_seq>`, leaving out `<start_seq>` and padding;
    /// an id outside the vocabulary decodes as `<unk>`.
    public func decode(_ ids: [Int64]) -> [String] {
        var out: [String] = []
        for id in ids {
            guard id >= 0 && id < Int64(size) else { out.append(Self.unkToken); continue }
            let i = Int(id)
            if i == end { break }
            if i == start || i == pad { continue }
            out.append(idToToken[i])
        }
        return out
    }
}
