// The sum of outer products of matching rows: how the gradient of a weight shared by every
// step of an unrolled loop is computed in one product instead of one per step.

/// `contract_rows(a, b)`: a [..., M] and b [..., N] with the same leading dimensions give
/// [M, N], result[m, n] = Σ_r a[r, m] b[r, n] over every row r (every index of the leading
/// axes). With the steps' operands stacked, Σ_t matmul(a_t, b_t) {transpose_a} is one
/// `contract_rows(stack(a_t), stack(b_t))`: one GEMM with K = steps x batch rows, where the
/// sum of per-step products writes a weight-sized matrix per step. The `stack-sums` pass
/// makes it.
public enum ContractRowsOp: OpSpec {
    public static let name = "contract_rows"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.contraction
    public static let attributes: [AttributeSpec] = []
    /// A multiply and an add per output element and row: K is the number of rows.
    public static func flops(_ q: CostQuery) -> Double {
        let m = q.dim(0, -1)
        return m > 0 ? 2 * q.outputCount * (q.count(0) / m) : 0
    }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "left operand"); try q.requireFloat(1, "right operand")
        let a = q.input(0).shape, b = q.input(1).shape
        guard a.rank >= 2, b.rank >= 2 else { throw ShapeError("operands must have rank 2 or more, got \(a) and \(b)") }
        guard Array(a.dims.dropLast()) == Array(b.dims.dropLast()) else {
            throw ShapeError("the rows of \(a) and \(b) differ: every axis but the last must match")
        }
        return .f32(Shape([a[a.rank - 1], b[b.rank - 1]]))
    }
}
extension ContractRowsOp: DifferentiableOp {
    /// y = Aᵀ B with A, B the operands as [R, M], [R, N]: dA = B dyᵀ, dB = A dy, both
    /// row-wise products with the 2-D dy (matmul keeps a's leading axes).
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let a = c.input(0), b = c.input(1), dy = c.gradient
        return [
            c.needs(0) ? try c.emit(.matmul, [b, dy], ["transpose_b": .bool(true)]) : nil,
            c.needs(1) ? try c.emit(.matmul, [a, dy]) : nil,
        ]
    }
}

extension OpDef {
    public static let contractRows = OpDef(ContractRowsOp.self)
}
