import GraphIR

/// Matching feeds against the graph's declared inputs: every input fed, with its declared
/// element type and rank, known dimensions equal, and each symbol (B, T) bound to one size.
enum FeedBinding {
    /// What binding needs of a feed, whether a tensor or a `FeedWriter`.
    private struct Given {
        var dtype: DType
        var shape: [Int]
    }

    static func bind(_ graph: Graph, inputs: [Value], feeds: [String: HostTensor], written: [String: FeedWriter] = [:]) throws -> [String: Int] {
        var bindings: [String: Int] = [:]
        var boundBy: [String: String] = [:]
        for name in written.keys where feeds[name] != nil {
            throw RuntimeError("feed '\(name)' is given twice: as a tensor and as a writer")
        }
        for v in inputs {
            let node = graph[v]
            let name = node.name ?? "%\(v.id)"
            let declared = node.fedType   // an input taken reduced is fed unreduced
            let given: Given? = feeds[name].map { Given(dtype: $0.dtype, shape: $0.shape) }
                ?? written[name].map { Given(dtype: $0.dtype, shape: $0.shape) }
            guard let feed = given else {
                let given = (Array(feeds.keys) + Array(written.keys)).sorted().map { "'\($0)'" }.joined(separator: ", ")
                throw RuntimeError("missing feed '\(name)' (\(declared)); feeds given: \(given.isEmpty ? "none" : given)")
            }
            guard feed.dtype == declared.dtype else {
                throw RuntimeError("feed '\(name)' is \(feed.dtype.rawValue)\(feed.shape) but the graph declares \(declared)")
            }
            // A writer writes what its shape calls for; a tensor must hold that many values.
            if let t = feeds[name], t.storedCount != t.count {
                throw RuntimeError("feed '\(name)' has shape \(t.shape) (\(t.count) elements) but holds \(t.storedCount) values")
            }
            guard feed.shape.count == declared.rank else {
                throw RuntimeError("feed '\(name)' has shape \(feed.shape) but the graph declares \(declared) (rank \(declared.rank), not \(feed.shape.count))")
            }
            for (i, d) in declared.shape.dims.enumerated() {
                let got = feed.shape[i]
                switch d {
                case .known(let n):
                    guard got == n else {
                        throw RuntimeError("feed '\(name)' has shape \(feed.shape) but the graph declares \(declared): dimension \(i) must be \(n), not \(got)")
                    }
                case .symbol(let s):
                    guard got >= 1 else {
                        throw RuntimeError("feed '\(name)' has shape \(feed.shape), binding \(s) = \(got); a dimension must be at least 1")
                    }
                    if let prior = bindings[s], prior != got {
                        throw RuntimeError("feed '\(name)' has shape \(feed.shape), binding \(s) = \(got), but feed '\(boundBy[s] ?? "?")' bound \(s) = \(prior)")
                    }
                    bindings[s] = got
                    boundBy[s] = boundBy[s] ?? name
                }
            }
            // An input taken reduced has no buffer of the fed size to check it against: a
            // writer's fed size may become scratch memory.
            if declared != node.type, !(checkedElementCount(feed.shape).map { $0 <= maxBLASElementCount } ?? false) {
                throw RuntimeError("feed '\(name)' has shape \(feed.shape), more than \(maxBLASElementCount) elements")
            }
        }
        return bindings
    }

    /// Every value's concrete shape under `bindings`, or an error naming the first value with
    /// a symbol no feed binds.
    static func resolveShapes(_ graph: Graph, bindings: [String: Int]) throws -> [[Int]] {
        var shapes: [[Int]] = []
        shapes.reserveCapacity(graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() {
            guard let s = node.type.shape.resolved(bindings) else {
                let unbound = node.type.shape.dims.compactMap { d -> String? in
                    if case .symbol(let s) = d, bindings[s] == nil { return s }
                    return nil
                }
                let bound = bindings.keys.sorted().joined(separator: ", ")
                throw RuntimeError("value %\(i) (\(node.op.name)) has type \(node.type) but no feed binds \(unbound.joined(separator: ", ")) (feeds bind: \(bound.isEmpty ? "nothing" : bound))")
            }
            guard let n = checkedElementCount(s), n <= maxBLASElementCount else {
                throw RuntimeError("value %\(i) (\(node.op.name)) would be \(node.type.dtype.rawValue)\(s), more than \(maxBLASElementCount) elements")
            }
            shapes.append(s)
        }
        return shapes
    }
}
