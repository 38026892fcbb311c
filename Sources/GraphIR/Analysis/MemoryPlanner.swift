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
/// - A reshape (`reshape`, `reshape_like`: its bytes are its input's) of a value still read
///   later shares that value's region instead of copying it, when neither is pinned and both
///   have the same element type and byte size: values are never written after their node, so
///   the two stay equal. The values sharing a region are one group, whose region is given back
///   after the last read of any of them, and which an in-place write may take only then, and
///   only when the writing node reads no other value of the group.
/// - Free regions are kept per rounded size and reused for a value of exactly that size
///   (unrolled loops repeat the same shapes step after step); otherwise the arena grows.
///   One pass over the nodes, constant work per input: linear in the graph.
public enum MemoryPlanner {
    public struct Plan: Equatable {
        /// Byte offset of every value's region.
        public var offsets: [Int]
        /// Bytes the arena holds.
        public var byteCount: Int
        /// For values written in place, and reshapes sharing their input's region: the input
        /// whose region they took.
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
        // Each value's group (the value whose region it shares: itself unless a reshape view),
        // and the last read of any value of each group.
        var group = Array(0..<n)
        var groupLastUse = lastUse
        for (i, node) in g.nodes.enumerated() where node.op == .reshape || node.op == .reshapeLike {
            guard let x = node.inputs.first?.id, x < i, !pinned[i], !pinned[x], byteSizes[i] > 0,
                  byteSizes[x] == byteSizes[i], g.nodes[x].type.dtype == node.type.dtype else { continue }
            group[i] = group[x]
        }
        for i in 0..<n where group[i] != i { groupLastUse[group[i]] = max(groupLastUse[group[i]], lastUse[i]) }

        var offsets = [Int](repeating: 0, count: n)
        var inPlaceOf = [Int?](repeating: nil, count: n)
        /// Whether group i still owns its region (in-place writes move ownership on).
        var owns = [Bool](repeating: false, count: n)
        var free: [Int: [Int]] = [:]
        var end = 0

        for i in 0..<n {
            let node = g.nodes[i]
            let size = rounded(byteSizes[i])
            if group[i] != i {
                offsets[i] = offsets[group[i]]
                inPlaceOf[i] = node.inputs[0].id
            } else if size > 0 {
                if !pinned[i], let donor = inPlaceDonor(g, i, group: group, lastUse: groupLastUse, owns: owns, pinned: pinned, sizes: byteSizes) {
                    offsets[i] = offsets[donor]
                    owns[group[donor]] = false
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
            // Give back the regions of groups read for the last time here (after placing the
            // output, which must not overlap them), and of a value nothing reads.
            for v in node.inputs where v.id < n {
                let r = group[v.id]
                guard groupLastUse[r] == i && owns[r] && !pinned[r] else { continue }
                owns[r] = false
                free[rounded(byteSizes[r]), default: []].append(offsets[r])
            }
            if groupLastUse[i] == i && owns[i] && !pinned[i] {
                owns[i] = false
                free[size, default: []].append(offsets[i])
            }
        }
        return Plan(offsets: offsets, byteCount: end, inPlaceOf: inPlaceOf)
    }

    /// An input of node i it may overwrite: one its op declares it may (`inPlaceOperands`),
    /// of the output's element type and byte size, whose group is read for the last time here,
    /// owns its region and is not pinned, and of which node i reads no other value.
    static func inPlaceDonor(_ g: Graph, _ i: Int, group: [Int], lastUse: [Int], owns: [Bool], pinned: [Bool], sizes: [Int]) -> Int? {
        let node = g.nodes[i]
        let allowed = node.op.inPlaceOperands
        for (k, v) in node.inputs.enumerated() where allowed.allows(k) && v.id < i {
            let r = group[v.id]
            guard lastUse[r] == i && owns[r] && !pinned[r] && g.nodes[v.id].type.dtype == node.type.dtype && sizes[v.id] == sizes[i],
                  !node.inputs.contains(where: { $0 != v && $0.id < i && group[$0.id] == r }) else { continue }
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
