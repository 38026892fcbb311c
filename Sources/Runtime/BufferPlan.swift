import GraphIR

/// Where each value of a graph lives in one arena, for one binding of its symbolic dims.
///
/// The executor asks a `BufferPlanner` for a plan once per binding and never allocates per
/// node afterwards. The default gives every value its own region; a lifetime-based planner
/// can hand back overlapping offsets for values that are never live at the same time, under
/// two rules: a node's output may not overlap its inputs (but where its op may write in place,
/// or is a reshape given its input's bytes, which its kernel then leaves as they are), and
/// inputs, parameters and graph results keep regions of their own (parameters are copied in
/// only when they change, and results are read after the run).
public struct BufferPlan {
    /// Byte offset of value i's region, for every node of the graph.
    public var offsets: [Int]
    /// Bytes the arena must hold.
    public var byteCount: Int

    public init(offsets: [Int], byteCount: Int) { self.offsets = offsets; self.byteCount = byteCount }

    /// Every value in a region of its own, each aligned to `alignment` bytes.
    public static func onePerValue(byteSizes: [Int], alignment: Int = 64) -> BufferPlan {
        var offsets: [Int] = []
        offsets.reserveCapacity(byteSizes.count)
        var end = 0
        for size in byteSizes {
            offsets.append(end)
            end += (size + alignment - 1) / alignment * alignment
        }
        return BufferPlan(offsets: offsets, byteCount: end)
    }

    /// Checks the plan fits the sizes it was made for: one offset per value, each region
    /// inside the arena and aligned for 8-byte elements.
    func validate(byteSizes: [Int]) throws {
        guard offsets.count == byteSizes.count else {
            throw RuntimeError("buffer plan has \(offsets.count) offsets for \(byteSizes.count) values")
        }
        for (i, (o, size)) in zip(offsets, byteSizes).enumerated() {
            guard o >= 0, o % 8 == 0, o + size <= byteCount else {
                throw RuntimeError("buffer plan places %\(i) (\(size) bytes) at offset \(o), outside an arena of \(byteCount) bytes or misaligned")
            }
        }
    }
}

/// Makes a plan for a graph given each value's size in bytes under the current binding.
public typealias BufferPlanner = (_ graph: Graph, _ byteSizes: [Int]) -> BufferPlan

extension BufferPlan {
    /// Lifetime-based reuse (`MemoryPlanner`): values never live at the same time share
    /// memory and elementwise ops may write over an input read for the last time. After a
    /// run only inputs, parameters and results hold their values.
    public static func lifetimes(_ graph: Graph, _ byteSizes: [Int]) -> BufferPlan {
        let p = MemoryPlanner.plan(graph, byteSizes: byteSizes)
        return BufferPlan(offsets: p.offsets, byteCount: p.byteCount)
    }
}
