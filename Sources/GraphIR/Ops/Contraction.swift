// Matrix products: the ops that go to BLAS.

/// `matmul(a, b) {transpose_a, transpose_b}`: a is [..., M, K], b is [K, N] or [..., K, N]
/// with the same leading dimensions; the result is [..., M, N].
public enum MatmulOp: OpSpec {
    public static let name = "matmul"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.contraction
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "left operand"); try q.requireFloat(1, "right operand")
        let a = q.input(0).shape, b = q.input(1).shape
        guard a.rank >= 2, b.rank >= 2 else { throw ShapeError("operands must have rank 2 or more, got \(a) and \(b)") }
        let ta = q.attributes.bool("transpose_a") ?? false, tb = q.attributes.bool("transpose_b") ?? false
        let m = ta ? a[a.rank - 1] : a[a.rank - 2], ka = ta ? a[a.rank - 2] : a[a.rank - 1]
        let kb = tb ? b[b.rank - 1] : b[b.rank - 2], n = tb ? b[b.rank - 2] : b[b.rank - 1]
        guard ka == kb else {
            throw ShapeError("inner dimensions differ: \(a)\(ta ? "ᵀ" : "") has \(ka) columns, \(b)\(tb ? "ᵀ" : "") has \(kb) rows")
        }
        let lead = Array(a.dims.dropLast(2))
        if b.rank > 2 {
            guard Array(b.dims.dropLast(2)) == lead else { throw ShapeError("batch dimensions differ: \(a) and \(b)") }
        }
        return .f32(Shape(lead + [m, n]))
    }
}

extension OpDef {
    public static let matmul = OpDef(MatmulOp.self)
}
