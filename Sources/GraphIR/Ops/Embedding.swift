// Lookup tables.

extension OpDef {
    /// `embedding(ids, weight)`: ids i64 [...] into weight [V, D] gives [..., D].
    public static let embedding = OpDef("embedding", arity: .exactly(2), fusion: .opaque, shape: { q in
        guard q.input(0).dtype == .i64 else { throw ShapeError("ids must be i64, got \(q.input(0))") }
        try q.requireFloat(1, "weight"); try q.requireRank(1, 2...2, "weight")
        return .f32(Shape(q.input(0).shape.dims + [q.input(1).shape[1]]))
    })

    /// `embedding_grad(dy, ids, weight)`: dy's rows added into zeros shaped like weight.
    public static let embeddingGrad = OpDef("embedding_grad", arity: .exactly(3), fusion: .opaque, shape: { q in
        try q.requireFloat(0)
        guard q.input(1).dtype == .i64 else { throw ShapeError("ids must be i64, got \(q.input(1))") }
        return q.input(2)
    })
}
