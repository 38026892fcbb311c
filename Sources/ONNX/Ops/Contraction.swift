import GraphIR

// Matrix products.

extension ONNXOps {
    static let contractions: [ONNXOpConverter] = [matMul, gemm]

    /// MatMul as numpy's matmul: a 1-D right operand is a column, a 2-D one shared by every
    /// batch of the left operand (graphc's matmul broadcasts the right operand's batch only
    /// when it has none).
    static let matMul = ONNXOpConverter("MatMul") { c in
        let a = try c.tensor(0), b = try c.tensor(1)
        let ra = c.type(a).rank, rb = c.type(b).rank
        guard ra >= 2 else { throw c.fail("a left operand of rank \(ra) is not supported (rank 2 or more)") }
        if rb == 1 {
            let n = try c.knownSize(b, 0, "vector")
            let column = try c.emit(.reshape, [b], ["shape": .shape(Shape(known: [n, 1]))])
            let y = try c.emit(.matmul, [a, column])
            return [.graph(try c.emit(.reshape, [y], ["shape": .shape(Shape(Array(c.type(y).shape.dims.dropLast())))]))]
        }
        return [.graph(try c.emit(.matmul, [a, b]))]
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
