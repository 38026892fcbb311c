/// One choice point at one set of shapes: what a measured choice is remembered under (within
/// a machine's table, see `MachineIdentity`).
///
/// `point` names the choice ("gemm-split", "thin-matmul", "conv2d", "fusion"); `shapes` and
/// `detail` are every size and attribute the candidates' speed depends on, written
/// `8x1152*1152x600 tb` in the cache file. `threads` is the worker pool's
/// width: a split that wins on two threads may lose on one.
public struct TuningKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let point: String
    public let shapes: [[Int]]
    /// Attributes the speed depends on besides the shapes ("tb", "s2p1"); no spaces.
    public let detail: String
    public let threads: Int

    public init(point: String, shapes: [[Int]], detail: String = "", threads: Int) {
        self.point = point; self.shapes = shapes; self.detail = detail; self.threads = threads
    }

    /// The shapes as `AxB*CxD`, then `detail` after a space.
    public var shape: String {
        let s = shapes.map { $0.map(String.init).joined(separator: "x") }.joined(separator: "*")
        return detail.isEmpty ? s : s + " " + detail
    }

    /// `point shape @threads`: the key as written in the cache file.
    public var description: String { "\(point) \(shape) @\(threads)" }

    /// Parses `description` back (nil for anything else).
    init?(cacheText text: String) {
        let words = text.split(separator: " ")
        guard words.count == 3 || words.count == 4, let last = words.last, last.hasPrefix("@"),
              let threads = Int(last.dropFirst()), threads > 0 else { return nil }
        var shapes: [[Int]] = []
        for part in words[1].split(separator: "*", omittingEmptySubsequences: false) {
            var dims: [Int] = []
            for d in part.split(separator: "x") {
                guard let v = Int(d), v >= 0 else { return nil }
                dims.append(v)
            }
            shapes.append(dims)
        }
        self.init(point: String(words[0]), shapes: shapes, detail: words.count == 4 ? String(words[2]) : "", threads: threads)
    }

    public static func < (a: TuningKey, b: TuningKey) -> Bool { a.description < b.description }
}
