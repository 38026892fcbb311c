import GraphIR

// Matrix products.

extension ONNXOps {
    static let contractions: [ONNXOpConverter] = [matMul, gemm]

    /// MatMul as numpy's matmul: a 1-D left operand is a row and a 1-D right one a column,
    /// each dropped from the result; the batch dimensions broadcast. graphc's matmul takes
    /// equal batches, or a 2-D right operand shared by every batch of the left one, so a
    /// batch of size 1 facing a larger one is repeated (a `concat` of copies) first.
    static let matMul = ONNXOpConverter("MatMul") { c in
        var a = try c.tensor(0), b = try c.tensor(1)
        let ra = c.type(a).rank, rb = c.type(b).rank
        guard ra >= 1, rb >= 1 else { throw c.fail("operands must have rank 1 or more, got \(c.type(a)) and \(c.type(b))") }
        if ra == 1 { a = try c.emit(.reshape, [a], ["shape": .shape(Shape([.known(1), c.type(a).shape[0]]))]) }
        if rb == 1 { b = try c.emit(.reshape, [b], ["shape": .shape(Shape([c.type(b).shape[0], .known(1)]))]) }
        let la = Array(c.type(a).shape.dims.dropLast(2)), lb = Array(c.type(b).shape.dims.dropLast(2))
        if la != lb, !lb.isEmpty {
            let batch = try broadcastBatch(c, la, lb)
            a = try repeated(c, a, to: batch)
            b = try repeated(c, b, to: batch)
        }
        var y = try c.emit(.matmul, [a, b])
        if ra == 1 || rb == 1 {
            var dims = c.type(y).shape.dims
            if rb == 1 { dims.removeLast() }
            if ra == 1 { dims.remove(at: dims.count - 1 - (rb == 1 ? 0 : 1)) }
            y = try c.emit(.reshape, [y], ["shape": .shape(Shape(dims))])
        }
        return [.graph(y)]
    }

    /// numpy's broadcast of two batch shapes (aligned at the end).
    static func broadcastBatch(_ c: ONNXNodeContext, _ a: [Dim], _ b: [Dim]) throws -> [Dim] {
        let n = max(a.count, b.count)
        let pa = Array(repeating: Dim.known(1), count: n - a.count) + a, pb = Array(repeating: Dim.known(1), count: n - b.count) + b
        return try zip(pa, pb).map { x, y in
            if x == y || y == .known(1) { return x }
            if x == .known(1) { return y }
            throw c.fail("batch dimensions \(a) and \(b) do not broadcast")
        }
    }

    /// A matrix or batch of matrices given the batch dimensions `batch`: leading 1s added,
    /// and each axis of size 1 repeated to the batch's size.
    static func repeated(_ c: ONNXNodeContext, _ v: Value, to batch: [Dim]) throws -> Value {
        var x = v
        var dims = c.type(x).shape.dims
        if dims.count - 2 < batch.count {
            dims = Array(repeating: .known(1), count: batch.count + 2 - dims.count) + dims
            x = try c.emit(.reshape, [x], ["shape": .shape(Shape(dims))])
        }
        for (axis, d) in batch.enumerated() where dims[axis] != d {
            guard let n = d.value, n <= 1 << 16 else { throw c.fail("cannot repeat a batch of 1 to \(d)") }
            x = try c.emit(.concat, Array(repeating: x, count: n), ["axis": .int(axis)])
        }
        return x
    }

    /// Gemm: alpha op(A) op(B) + beta C, with op a transpose when transA / transB is 1.
    static let gemm = ONNXOpConverter("Gemm") { c in
        let alpha = c.float("alpha", default: 1), beta = c.float("beta", default: 1)
        let ta = c.int("transA", default: 0) != 0, tb = c.int("transB", default: 0) != 0
        var attributes: Attributes = [:]
        if ta { attributes["transpose_a"] = .bool(true) }
        if tb { attributes["transpose_b"] = .bool(true) }
        let a = try c.tensor(0), b = try c.tensor(1)
        guard c.type(a).rank == 2, c.type(b).rank == 2 else { throw c.fail("A and B must be matrices, got \(c.type(a)) and \(c.type(b))") }
        var y = try c.emit(.matmul, [a, b], attributes)
        if alpha != 1 { y = try c.emit(.scale, [y], ["factor": .float(alpha)]) }
        if c.has(2), beta != 0 {
            var bias = try c.tensor(2)
            if beta != 1 { bias = try c.emit(.scale, [bias], ["factor": .float(beta)]) }
            y = try c.emit(.add, [y, bias])
        }
        return [.graph(y)]
    }
}
