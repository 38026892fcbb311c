/// Lifetime-based placement of every value in one arena: the runtime's buffer planner and
/// the `memory-plan` pass (which shows it in the IR) share it.
///
/// Nodes run in order. A value's region is taken when its node runs and given back after
/// the last node that reads it, so values whose lifetimes do not overlap share memory.
/// - Inputs, parameters and graph results (outputs, loss) keep regions of their own for the
///   whole run: feeds are copied in before it, results read after it.
/// - A node's output never overlaps a live input, except in place: an elementwise op or a
///   reshape (same element index in and out) may write over an input of its own element type
///   and byte size that nothing reads later.
/// - Free regions are kept per rounded size and reused for a value of exactly that size
///   (unrolled loops repeat the same shapes step after step); otherwise the arena grows.
///   One pass over the nodes, constant work per input: linear in the graph.
public enum MemoryPlanner {
    public struct Plan: Equatable {
        /// Byte offset of every value's region.
        public var offsets: [Int]
        /// Bytes the arena holds.
        public var byteCount: Int
        /// For values written in place: the input whose region they took.
        public var inPlaceOf: [Int?]
    }

    public static func plan(_ g: Graph, byteSizes: [Int], alignment: Int = 64) -> Plan {
        let n = g.nodes.count
        var lastUse = Array(0..<n)
        for (i, node) in g.nodes.enumerated() { for v in node.inputs where v.id < n { lastUse[v.id] = max(lastUse[v.id], i) } }
        var pinned = [Bool](repeating: false, count: n)
        for (_, v) in g.outputs where v.id < n { pinned[v.id] = true }
        if let l = g.loss, l.id < n { pinned[l.id] = true }
        for (i, node) in g.nodes.enumerated() where node.op == .input || node.op == .param { pinned[i] = true }

        func rounded(_ s: Int) -> Int { (max(s, 0) + alignment - 1) / alignment * alignment }
        var offsets = [Int](repeating: 0, count: n)
        var inPlaceOf = [Int?](repeating: nil, count: n)
        /// Whether value i still owns its region (in-place writes move ownership on).
        var owns = [Bool](repeating: false, count: n)
        var free: [Int: [Int]] = [:]
        var end = 0

        for i in 0..<n {
            let node = g.nodes[i]
            let size = rounded(byteSizes[i])
            if size > 0 {
                if !pinned[i], let donor = inPlaceDonor(g, i, lastUse: lastUse, owns: owns, pinned: pinned, sizes: byteSizes) {
                    offsets[i] = offsets[donor]
                    owns[donor] = false
                    inPlaceOf[i] = donor
                } else if !pinned[i], var list = free[size], let o = list.popLast() {
                    offsets[i] = o
                    free[size] = list
                } else {
                    offsets[i] = end
                    end += size
                }
                owns[i] = true
            }
            // Give back the regions of inputs read for the last time here (after placing the
            // output, which must not overlap them), and of a value nothing reads.
            for v in node.inputs where v.id < n && lastUse[v.id] == i && owns[v.id] && !pinned[v.id] {
                owns[v.id] = false
                free[rounded(byteSizes[v.id]), default: []].append(offsets[v.id])
            }
            if lastUse[i] == i && owns[i] && !pinned[i] {
                owns[i] = false
                free[size, default: []].append(offsets[i])
            }
        }
        return Plan(offsets: offsets, byteCount: end, inPlaceOf: inPlaceOf)
    }

    /// An input of node i it may overwrite: one its op declares it may (`inPlaceOperands`),
    /// of the output's element type and byte size, read for the last time here, owning its region,
    /// not pinned.
    static func inPlaceDonor(_ g: Graph, _ i: Int, lastUse: [Int], owns: [Bool], pinned: [Bool], sizes: [Int]) -> Int? {
        let node = g.nodes[i]
        let allowed = node.op.inPlaceOperands
        for (k, v) in node.inputs.enumerated() where allowed.allows(k) && v.id < i && lastUse[v.id] == i && owns[v.id] && !pinned[v.id]
            && g.nodes[v.id].type.dtype == node.type.dtype && sizes[v.id] == sizes[i] {
            return v.id
        }
        return nil
    }

    /// Every value's byte size with each symbolic dimension bound as given (1 if not).
    public static func byteSizes(_ g: Graph, bindings: [String: Int]) -> [Int] {
        g.nodes.map { node in
            node.type.shape.dims.reduce(node.type.dtype.byteSize) { size, d in
                switch d {
                case .known(let k): return size * k
                case .symbol(let s): return size * (bindings[s] ?? 1)
                }
            }
        }
    }
}
