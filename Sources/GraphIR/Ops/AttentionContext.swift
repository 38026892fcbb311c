// Attention's context vector with its softmax as one op: made by the attention-context pass
// from softmax(scores) · features, with its backward as one op.

/// The shapes both attention-context ops share: scores [B, N] (one per region) and the
/// features [B, N, D]. Returns (B, N, D).
enum AttentionContextShapes {
    static func check(_ q: ShapeQuery, scores: Int, features: Int) throws -> (Dim, Dim, Dim) {
        try q.requireFloat(scores, "scores"); try q.requireFloat(features, "features")
        let s = q.input(scores).shape, f = q.input(features).shape
        guard s.rank == 2, f.rank == 3, s[0] == f[0], s[1] == f[1] else {
            throw ShapeError("expected scores [B, N] and features [B, N, D], got \(s) and \(f)")
        }
        return (f[0], f[1], f[2])
    }
}

/// `attention_context(scores, features)`: [B, D], alpha = softmax(scores[b]) over the regions,
/// context[b, d] = Σ_n alpha[b, n] features[b, n, d]. It replaces softmax, the reshape of
/// alpha to [B, N, 1] and the product αᵀ·features, so that each example's softmax and product
/// run on the core that reads its features, in one dispatch per decoder step; alpha is not
/// kept (the backward recomputes it from the scores: N exps per example).
public enum AttentionContextOp: OpSpec {
    public static let name = "attention_context"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// The softmax (5 per score) and a multiply-add per feature.
    public static func flops(_ q: CostQuery) -> Double { 5 * q.count(0) + 2 * q.count(1) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let (b, _, d) = try AttentionContextShapes.check(q, scores: 0, features: 1)
        return .f32(Shape([b, d]))
    }
}

extension AttentionContextOp: DifferentiableOp {
    /// d scores = attention_context_grad(dc, scores, features); d features[b, n, d] =
    /// alpha[b, n] dc[b, d], the outer product of softmax(scores) and dc per example (only
    /// when the features need a gradient: a decoder's encoder output usually does not).
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let dc = c.gradient, scores = c.input(0), features = c.input(1)
        var dFeatures: Value? = nil
        if c.needs(1) {
            let s = c.type(scores).shape, f = c.type(features).shape
            let alpha = try c.emit(.softmax, [scores], ["axis": .int(1)])
            let column = try c.emit(.reshape, [alpha], ["shape": .shape(Shape([s[0], s[1], .known(1)]))])
            let row = try c.emit(.reshape, [dc], ["shape": .shape(Shape([f[0], .known(1), f[2]]))])
            dFeatures = try c.emit(.matmul, [column, row])
        }
        return [c.needs(0) ? try c.emit(.attentionContextGrad, [dc, scores, features]) : nil, dFeatures]
    }
}

/// `attention_context_grad(dc, scores, features)`: [B, N], the gradient of attention_context's
/// scores: with alpha = softmax(scores[b]) and g[b, n] = Σ_d features[b, n, d] dc[b, d],
/// alpha[b, n] (g[b, n] - Σ_m alpha[b, m] g[b, m]) (softmax's backward of the product's).
public enum AttentionContextGradOp: OpSpec {
    public static let name = "attention_context_grad"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// The softmax again (5 per score), a multiply-add per feature and softmax's backward (4).
    public static func flops(_ q: CostQuery) -> Double { 9 * q.count(1) + 2 * q.count(2) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let (b, _, d) = try AttentionContextShapes.check(q, scores: 1, features: 2)
        try q.requireFloat(0, "dc")
        guard q.input(0).shape == Shape([b, d]) else { throw ShapeError("expected dc [\(b), \(d)], got \(q.input(0).shape)") }
        return q.input(1)
    }
}

extension OpDef {
    public static let attentionContext = OpDef(AttentionContextOp.self)
    public static let attentionContextGrad = OpDef(AttentionContextGradOp.self)
}
