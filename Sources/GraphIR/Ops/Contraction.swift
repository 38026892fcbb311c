// Matrix products: the ops that go to BLAS.

extension AttributeKey where Value == Bool {
    /// Whether a matrix product reads its left (right) operand transposed, without a copy.
    public static let transposeA = AttributeKey("transpose_a")
    public static let transposeB = AttributeKey("transpose_b")
}

/// `matmul(a, b) {transpose_a, transpose_b}`: a is [..., M, K], b is [K, N] or [..., K, N]
/// with the same leading dimensions; the result is [..., M, N].
public enum MatmulOp: OpSpec {
    public static let name = "matmul"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.contraction
    public static let attributes: [AttributeSpec] = [.optional(.transposeA), .optional(.transposeB)]
    /// A multiply and an add per output element and step of the inner dimension K.
    public static func flops(_ q: CostQuery) -> Double {
        let k = q.dim(0, q.attributes[.transposeA] ?? false ? -2 : -1)
        return 2 * q.outputCount * k
    }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "left operand"); try q.requireFloat(1, "right operand")
        let a = q.input(0).shape, b = q.input(1).shape
        guard a.rank >= 2, b.rank >= 2 else { throw ShapeError("operands must have rank 2 or more, got \(a) and \(b)") }
        let ta = q.attributes[.transposeA] ?? false, tb = q.attributes[.transposeB] ?? false
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
extension MatmulOp: DifferentiableOp {
    /// With y = op(a) op(b) per batch slice: d op(a) = dy op(b)ᵀ and d op(b) = op(a)ᵀ dy,
    /// each written as one matmul with transpose flags. A 2-D b shared by a batched a gets
    /// the sum over the batch: one `contract_rows` over every leading row when a is not
    /// transposed, else a batched product summed over the leading axes.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let a = c.input(0), b = c.input(1), g = c.gradient
        let ta = c.attributes[.transposeA] ?? false, tb = c.attributes[.transposeB] ?? false
        let aType = c.type(a), lead = aType.rank - 2
        let sharedB = lead > 0 && c.type(b).rank == 2
        func mm(_ x: Value, _ y: Value, _ tx: Bool, _ ty: Bool) throws -> Value {
            try c.emit(.matmul, [x, y], ["transpose_a": .bool(tx), "transpose_b": .bool(ty)])
        }
        func swapLast(_ x: Value) throws -> Value {
            let r = c.type(x).rank
            return try c.emit(.transpose, [x], ["perm": .ints(Array(0..<(r - 2)) + [r - 1, r - 2])])
        }
        var da: Value?, db: Value?
        if c.needs(0) {
            switch (ta, tb) {
            case (false, false): da = try mm(g, b, false, true)
            case (false, true): da = try mm(g, b, false, false)
            // a is stored transposed: da = b dyᵀ (or bᵀ dyᵀ); a 2-D b cannot lead a batched product.
            case (true, false): da = sharedB ? try swapLast(try mm(g, b, false, true)) : try mm(b, g, false, true)
            case (true, true): da = sharedB ? try swapLast(try mm(g, b, false, false)) : try mm(b, g, true, true)
            }
        }
        if c.needs(1) {
            // Per slice: (F,F) aᵀ dy, (F,T) dyᵀ a, (T,F) a dy, (T,T) dyᵀ aᵀ.
            let flags: (Value, Value, Bool, Bool) = {
                switch (ta, tb) {
                case (false, false): return (a, g, true, false)
                case (false, true): return (g, a, true, false)
                case (true, false): return (a, g, false, false)
                case (true, true): return (g, a, true, true)
                }
            }()
            // aᵀ dy or dyᵀ a summed over the batch: every leading index is one more row of
            // one product (a symbolic batch included, and no flattened copies).
            if sharedB && !ta {
                db = try c.emit(.contractRows, [flags.0, flags.1])
            } else if sharedB {
                let perSlice = try mm(flags.0, flags.1, flags.2, flags.3)
                db = try c.emit(.sum, [perSlice], ["axes": .ints(Array(0..<lead))])
            } else {
                db = try mm(flags.0, flags.1, flags.2, flags.3)
            }
        }
        return [da, db]
    }
}

extension OpDef {
    public static let matmul = OpDef(MatmulOp.self)
}
