/// What every process of a job must agree on before training starts: the model file, the
/// flags, the data, the initial weights. Each item is compared by a hash over the job; when
/// ranks differ, the error says which item and what each rank has.
public enum StartupCheck {
    public struct Item {
        /// What it is ("the model file", "the flags").
        public var what: String
        /// A short description for the message (a path, the flags themselves).
        public var description: String
        /// A hash of the whole thing (a file's content, a data set's bytes).
        public var hash: UInt64
        public init(what: String, description: String, hash: UInt64) { self.what = what; self.description = description; self.hash = hash }
        /// An item compared by its description alone.
        public init(what: String, _ description: String) {
            self.init(what: what, description: description, hash: Hash.fnv1a(Array(description.utf8)))
        }
    }

    /// Throws, on every rank alike, when some rank's items differ from rank 0's.
    public static func agree(_ items: [Item], in world: World) throws {
        guard world.isDistributed else { return }
        var problems: [String] = []
        for item in items {
            let hashes = world.allGather(item.hash)
            guard Set(hashes).count > 1 else { continue }
            let descriptions = world.allGather(item.description)
            let differing = (0..<world.size).filter { hashes[$0] != hashes[0] }
            var line = "\(item.what) differs: rank 0 has \(descriptions[0])"
            for r in differing.prefix(3) {
                line += ", rank \(r) has \(descriptions[r])"
                if descriptions[r] == descriptions[0] { line += " (other content, hash \(String(hashes[r], radix: 16)) vs \(String(hashes[0], radix: 16)))" }
            }
            if differing.count > 3 { line += " (and \(differing.count - 3) more ranks)" }
            problems.append(line)
        }
        guard problems.isEmpty else {
            throw DistributedError("the ranks were started differently, so their results would not combine:\n  " + problems.joined(separator: "\n  "))
        }
    }
}

/// 64-bit FNV-1a, and a faster word-wise hash for large buffers.
public enum Hash {
    public static func fnv1a<C: Collection>(_ bytes: C, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 where C.Element == UInt8 {
        var h = seed
        for b in bytes { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// Mixes every 8 bytes (then the tail) of a buffer: fast enough for a data set.
    public static func words(_ raw: UnsafeRawBufferPointer, seed: UInt64 = 0x9e37_79b9_7f4a_7c15) -> UInt64 {
        var h = seed ^ UInt64(raw.count)
        let n = raw.count / 8
        for i in 0..<n {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0xff51_afd7_ed55_8ccd
            h ^= h >> 29
        }
        return fnv1a(UnsafeRawBufferPointer(rebasing: raw[(n * 8)...]), seed: h)
    }

    public static func words<T>(_ array: [T], seed: UInt64 = 0x9e37_79b9_7f4a_7c15) -> UInt64 {
        array.withUnsafeBytes { words($0, seed: seed) }
    }
}
