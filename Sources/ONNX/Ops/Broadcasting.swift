import GraphIR
import Runtime

// Ops that repeat or pick elements by broadcasting: Expand, Tile, Where. On tensors known at
// import they are computed here; on graph values Expand is a multiplication by ones, Tile a
// concatenation of copies and Where graphc's `where`.

extension ONNXOps {
    static let broadcasting: [ONNXOpConverter] = [expand, tile, where_]

    /// numpy's broadcast of `shapes` (aligned to the right), symbolic sizes kept.
    static func broadcast(_ c: ONNXNodeContext, _ shapes: [[Dim]]) throws -> [Dim] {
        let rank = shapes.map(\.count).max() ?? 0
        if let bad = shapes.joined().first(where: { ($0.value ?? 0) < 0 }) {
            throw c.fail("size \(bad) in \(shapes.map { Shape($0).description }.joined(separator: ", ")) is negative")
        }
        return try (0..<rank).map { axis in
            var out = Dim.known(1)
            for s in shapes {
                let k = axis - (rank - s.count)
                guard k >= 0 else { continue }
                let d = s[k]
                if d == out || d == .known(1) { continue }
                guard out == .known(1) else {
                    throw c.fail("shapes \(shapes.map { Shape($0).description }.joined(separator: ", ")) do not broadcast (axis \(axis): \(out) vs \(d))")
                }
                out = d
            }
            return out
        }
    }

    /// For each element of a tensor of shape `out`, the offset of the element of a tensor of
    /// `shape` (broadcast to it) that it reads.
    static func broadcastOffsets(_ shape: [Int], to out: [Int]) -> [Int] {
        sourceOffsets(shape, to: out) { o, size in size == 1 ? 0 : o }
    }

    /// For each element of `out`, the offset into a row-major tensor of `shape` (aligned to the
    /// right) at the positions `position(o, size)` gives along each axis.
    static func sourceOffsets(_ shape: [Int], to out: [Int], _ position: (Int, Int) -> Int) -> [Int] {
        let count = out.reduce(1, *)
        guard count > 0 else { return [] }
        let lead = out.count - shape.count
        var strides = [Int](repeating: 0, count: shape.count)
        var s = 1
        for a in shape.indices.reversed() { strides[a] = s; s *= shape[a] }
        var offsets = [Int](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: out.count)
        for o in 0..<count {
            var offset = 0
            for a in shape.indices { offset += position(index[lead + a], shape[a]) * strides[a] }
            offsets[o] = offset
            var axis = out.count - 1
            while axis >= 0 {
                index[axis] += 1
                if index[axis] < out[axis] { break }
                index[axis] = 0
                axis -= 1
            }
        }
        return offsets
    }

    /// A tensor of `shape` made at import from the elements of `t` at `offsets`, counted
    /// against the memory budget.
    static func gathered(_ c: ONNXNodeContext, _ t: HostTensor, _ shape: [Int], _ offsets: () -> [Int]) throws -> HostTensor {
        guard let bytes = MemoryBudget.bytes(elements: shape, byteSize: 8) else { throw c.fail("shape \(shape) is too large") }
        try c.importer.account(bytes, for: "the result of shape \(shape)", context: c)
        let o = offsets()
        if t.dtype == .i64 {
            let v = t.ints
            return HostTensor(shape: shape, ints: o.map { v[$0] })
        }
        let v = t.floats
        return HostTensor(shape: shape, floats: o.map { v[$0] })
    }

    /// Expand: the input broadcast with the shape input (known at import; its sizes may be
    /// symbolic where the input already has them).
    static let expand = ONNXOpConverter("Expand", opsets: 8...ONNXModel.maxOpset) { c in
        let target = try c.staticDims(1, "the shape").dims
        let type = try c.inputType(0)
        let out = try broadcast(c, [type.shape.dims, target])
        if case .constant(let t) = try c.value(0), out.allSatisfy({ $0.value != nil }) {
            let shape = out.map { $0.value ?? 0 }
            return [.constant(try gathered(c, t, shape) { broadcastOffsets(t.shape, to: shape) })]
        }
        let x = try c.tensor(0)
        // Ones of the sizes x is repeated along (1 elsewhere): x times them is x broadcast.
        let aligned = Array(repeating: Dim.known(1), count: out.count - type.rank) + type.shape.dims
        let ones = try zip(aligned, out).map { a, o -> Int in
            if a == o { return 1 }
            guard let n = o.value else { throw c.fail("cannot expand size \(a) of \(type) to the symbolic size \(o)") }
            return n
        }
        if ones.allSatisfy({ $0 == 1 }) { return [try reshaped(c, 0, to: out)] }
        guard type.dtype == .f32 else { throw c.fail("graphc expands integer tensors only when they are known at import (input is \(type))") }
        let t = try c.madeConstant(ones, name: c.name + ".ones") { Array(repeating: 1, count: $0) }
        return [.graph(try c.emit(.mul, [x, t]))]
    }

    /// The most copies Tile concatenates on a graph value.
    static let maxGraphRepeats = 1 << 16

    /// Tile: each axis repeated by the repeats input (known at import).
    static let tile = ONNXOpConverter("Tile", opsets: 6...ONNXModel.maxOpset) { c in
        let repeats = try c.staticInts(1, "repeats")
        let type = try c.inputType(0)
        guard repeats.count == type.rank else { throw c.fail("repeats \(repeats) must give one count per axis of \(type)") }
        if let r = repeats.first(where: { $0 < 0 }) { throw c.fail("repeats \(repeats) holds a negative count \(r)") }
        if case .constant(let t) = try c.value(0) {
            let shape = try zip(t.shape, repeats).map { try c.checkedProduct($0, $1, what: "the tiled shape") }
            return [.constant(try gathered(c, t, shape) { sourceOffsets(t.shape, to: shape) { o, size in o % size } })]
        }
        if repeats.contains(0) { throw c.fail("repeats \(repeats) make an empty tensor, which graphc does not hold") }
        var x = try c.tensor(0)
        for (axis, r) in repeats.enumerated() where r > 1 {
            _ = try c.knownSize(x, axis, "repeated axis \(axis)")
            // Each copy is an operand of the concatenation, as MatMul's repeated batches.
            guard r <= maxGraphRepeats else { throw c.fail("repeats \(repeats) copy axis \(axis) more than the \(maxGraphRepeats) times graphc concatenates") }
            x = try c.emit(.concat, Array(repeating: x, count: r), ["axis": .int(axis)])
        }
        return [.graph(x)]
    }

    /// Where: x where the condition (bool, imported as i64 0 and 1) holds, else y.
    static let where_ = ONNXOpConverter("Where", opsets: 9...ONNXModel.maxOpset) { c in
        let types = try (0..<3).map { try c.inputType($0) }
        guard types[0].dtype == .i64 else { throw c.fail("the condition must be bool, got \(types[0])") }
        guard types[1].dtype == types[2].dtype else { throw c.fail("x \(types[1]) and y \(types[2]) differ in element type") }
        let out = try broadcast(c, types.map(\.shape.dims))
        if let cond = c.constant(0), let x = c.constant(1), let y = c.constant(2), out.allSatisfy({ $0.value != nil }) {
            let shape = out.map { $0.value ?? 0 }
            let holds = try gathered(c, cond, shape) { broadcastOffsets(cond.shape, to: shape) }.ints
            let xs = try gathered(c, x, shape) { broadcastOffsets(x.shape, to: shape) }
            let ys = try gathered(c, y, shape) { broadcastOffsets(y.shape, to: shape) }
            if x.dtype == .i64 {
                let (a, b) = (xs.ints, ys.ints)
                return [.constant(HostTensor(shape: shape, ints: holds.indices.map { holds[$0] != 0 ? a[$0] : b[$0] }))]
            }
            let (a, b) = (xs.floats, ys.floats)
            return [.constant(HostTensor(shape: shape, floats: holds.indices.map { holds[$0] != 0 ? a[$0] : b[$0] }))]
        }
        return [.graph(try c.emit(.where, [try c.tensor(0), try c.tensor(1), try c.tensor(2)]))]
    }
}
