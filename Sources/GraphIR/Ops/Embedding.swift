// Lookup tables.

/// `embedding(ids, weight)`: ids i64 [...] into weight [V, D] gives [..., D].
public enum EmbeddingOp: OpSpec {
    public static let name = "embedding"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// Copies rows only.
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static let indexOperand: IndexOperand? = IndexOperand(ids: 0, limit: 1, axis: 0, meaning: .row)
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard q.input(0).dtype == .i64 else { throw ShapeError("ids must be i64, got \(q.input(0))") }
        try q.requireFloat(1, "weight"); try q.requireRank(1, 2...2, "weight")
        return .f32(Shape(q.input(0).shape.dims + [q.input(1).shape[1]]))
    }
}
extension EmbeddingOp: DifferentiableOp {
    /// Rows of the gradient added into the looked-up rows of the table; ids are indices.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [nil, c.needs(1) ? try c.emit(.embeddingGrad, [c.gradient, c.input(0), c.input(1)]) : nil]
    }
}

/// `embedding_grad(dy, ids, weight)`: dy's rows added into zeros shaped like weight.
public enum EmbeddingGradOp: OpSpec {
    public static let name = "embedding_grad"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// An add per element of dy.
    public static func flops(_ q: CostQuery) -> Double { q.count(0) }
    public static let indexOperand: IndexOperand? = IndexOperand(ids: 1, limit: 2, axis: 0, meaning: .row)
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0)
        guard q.input(1).dtype == .i64 else { throw ShapeError("ids must be i64, got \(q.input(1))") }
        return q.input(2)
    }
}

extension OpDef {
    public static let embedding = OpDef(EmbeddingOp.self)
    public static let embeddingGrad = OpDef(EmbeddingGradOp.self)
}
