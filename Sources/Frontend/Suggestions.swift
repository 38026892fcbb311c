// "Did you mean ...?" for misspelt names, layers, methods and argument labels.

enum Suggestions {
    /// The closest candidate within a small edit distance, or nil.
    static func closest(to name: String, in candidates: [String]) -> String? {
        let limit = name.count <= 3 ? 1 : 2
        var best: (String, Int)?
        for c in candidates where c != name {
            let d = distance(name.lowercased(), c.lowercased(), limit: limit)
            if d <= limit && (best == nil || d < best?.1 ?? Int.max) { best = (c, d) }
        }
        return best?.0
    }

    /// `; did you mean `x`?` or the empty string.
    static func hint(_ name: String, _ candidates: [String], prefix: String = "", suffix: String = "") -> String {
        closest(to: name, in: candidates).map { "; did you mean `\(prefix)\($0)\(suffix)`?" } ?? ""
    }

    /// Edit distance counting a swap of neighbours as one edit (`sdg` -> `sgd`), giving up
    /// (returning limit + 1) once it must exceed `limit`.
    static func distance(_ a: String, _ b: String, limit: Int) -> Int {
        let x = Array(a), y = Array(b)
        if abs(x.count - y.count) > limit { return limit + 1 }
        if x.isEmpty || y.isEmpty { return max(x.count, y.count) }
        var before = [Int](repeating: 0, count: y.count + 1)
        var prev = Array(0...y.count)
        for i in 1...x.count {
            var cur = [i] + Array(repeating: 0, count: y.count)
            var rowMin = i
            for j in 1...y.count {
                cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] == y[j - 1] ? 0 : 1))
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] { cur[j] = min(cur[j], before[j - 2] + 1) }
                rowMin = min(rowMin, cur[j])
            }
            if rowMin > limit { return limit + 1 }
            before = prev
            prev = cur
        }
        return prev[y.count]
    }
}

extension Scope {
    /// Every name visible from here.
    var visibleNames: [String] {
        var out: [String] = []
        var s: Scope? = self
        while let cur = s { out += cur.vars.keys; s = cur.parent }
        return out
    }
}
