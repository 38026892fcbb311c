// The scores of additive (show-attend-tell) attention as one op: made by the
// attention-scores pass from relu(enc + dec) · wᵀ, with its backward as three ops.

/// The shapes the three attention-score ops share: enc [B, N, A] (the regions' projections),
/// dec [B, A] (the decoder state's projection, one per batch row) and, for the scores and
/// their input gradient, w [1, A] (the one-output scoring layer's weight).
enum AdditiveScoresShapes {
    /// The dimensions (B, N, A) after checking enc, dec and, when `weight` names an input, w.
    static func check(_ q: ShapeQuery, enc: Int, dec: Int, weight: Int?) throws -> (Dim, Dim, Dim) {
        try q.requireFloat(enc, "enc"); try q.requireFloat(dec, "dec")
        let e = q.input(enc).shape, d = q.input(dec).shape
        guard e.rank == 3, d.rank == 2, d[0] == e[0], d[1] == e[2] else {
            throw ShapeError("expected enc [B, N, A] and dec [B, A], got \(e) and \(d)")
        }
        if let weight {
            try q.requireFloat(weight, "w")
            let w = q.input(weight).shape
            guard w.rank == 2, w[0] == .known(1), w[1] == e[2] else { throw ShapeError("expected w [1, \(e[2])], got \(w)") }
        }
        return (e[0], e[1], e[2])
    }

    /// `check` for a backward op (enc, dec and w from input 1), and its gradient dy (input 0)
    /// a float [B, N, 1].
    static func checkGradient(_ q: ShapeQuery, weight: Int?) throws -> (Dim, Dim, Dim) {
        let (b, n, a) = try check(q, enc: 1, dec: 2, weight: weight)
        try q.requireFloat(0, "dy")
        guard q.input(0).shape == Shape([b, n, .known(1)]) else { throw ShapeError("expected dy [\(b), \(n), 1], got \(q.input(0).shape)") }
        return (b, n, a)
    }
}

/// `additive_scores(enc, dec, w)`: y[b, n, 0] = Σ_a w[0, a] relu(enc[b, n, a] + dec[b, a]),
/// [B, N, 1]. It replaces reshape(dec) to [B, 1, A], the broadcast add, the relu and the
/// product with wᵀ, so neither the sum nor its relu is written: one read of enc per step
/// of a decoder that attends N regions every step. Its gradient recomputes relu's test
/// from enc and dec.
public enum AdditiveScoresOp: OpSpec {
    public static let name = "additive_scores"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// Per element of enc: the add, the relu and a multiply-add.
    public static func flops(_ q: CostQuery) -> Double { 4 * q.count(0) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let (b, n, _) = try AdditiveScoresShapes.check(q, enc: 0, dec: 1, weight: 2)
        return .f32(Shape([b, n, .known(1)]))
    }
}
extension AdditiveScoresOp: DifferentiableOp {
    /// With g = dy w where enc + dec > 0 (additive_scores_grad): d enc = g, d dec = Σ_n g
    /// (additive_scores_dec_grad, which does not need g written), d w =
    /// additive_scores_weight_grad(dy, enc, dec). d enc alone is [B, N, A]; the fusion pass
    /// adds it into the running sum of a decoder's steps (the operand `acc`).
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let dy = c.gradient, enc = c.input(0), dec = c.input(1), w = c.input(2)
        return [
            c.needs(0) ? try c.emit(.additiveScoresGrad, [dy, enc, dec, w]) : nil,
            c.needs(1) ? try c.emit(.additiveScoresDecGrad, [dy, enc, dec, w]) : nil,
            c.needs(2) ? try c.emit(.additiveScoresWeightGrad, [dy, enc, dec]) : nil,
        ]
    }
}

/// `additive_scores_grad(dy, enc, dec, w, acc?)`: dy [B, N, 1] -> [B, N, A], dy[b, n, 0]
/// w[0, a] where enc[b, n, a] + dec[b, a] > 0, else 0: the gradient of the scores'
/// pre-activation, plus `acc` (of the result's shape, written over) when given: the fusion
/// pass gives it the sum of the later steps' gradients of enc, which is then not read and
/// written again by a separate add per step.
public enum AdditiveScoresGradOp: OpSpec {
    public static let name = "additive_scores_grad"
    public static let arity = Arity.between(4, 5)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    public static let inPlaceOperands = InPlaceOperands.inputs([4])
    /// Per element of the result: the add, the test and a multiply (and the accumulation).
    public static func flops(_ q: CostQuery) -> Double { (q.inputs.count > 4 ? 4 : 3) * q.outputCount }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        _ = try AdditiveScoresShapes.checkGradient(q, weight: 3)
        if q.inputs.count > 4 {
            guard q.input(4) == q.input(1) else { throw ShapeError("acc must be \(q.input(1)), got \(q.input(4))") }
        }
        return q.input(1)
    }
}

/// `additive_scores_grad_sum(enc, w, dy_0, dec_0, dy_1, dec_1, ...)`: [B, N, A], the sum over
/// the steps s of additive_scores_grad(dy_s, enc, dec_s, w), added in step order (s = 0
/// first): the chain of a decoder's backward (`additive_scores_grad` with `acc`, step after
/// step) as one op, made by the `attention-grad-sums` pass. It reads enc and writes the sum
/// once, not once per step. Each dy_s is [B, N, 1] and each dec_s [B, A], as in
/// additive_scores_grad.
public enum AdditiveScoresGradSumOp: OpSpec {
    public static let name = "additive_scores_grad_sum"
    public static let arity = Arity.atLeast(4)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// Per element of the result and step: the add, the test, a multiply and the accumulation.
    public static func flops(_ q: CostQuery) -> Double { 4 * Double((q.inputs.count - 2) / 2) * q.outputCount }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard q.inputs.count % 2 == 0 else {
            throw ShapeError("expected enc, w, then pairs of dy and dec; got \(q.inputs.count) operands")
        }
        try q.requireFloat(0, "enc"); try q.requireFloat(1, "w")
        let e = q.input(0).shape, w = q.input(1).shape
        guard e.rank == 3 else { throw ShapeError("expected enc [B, N, A], got \(e)") }
        guard w.rank == 2, w[0] == .known(1), w[1] == e[2] else { throw ShapeError("expected w [1, \(e[2])], got \(w)") }
        for s in stride(from: 2, to: q.inputs.count, by: 2) {
            try q.requireFloat(s, "dy"); try q.requireFloat(s + 1, "dec")
            guard q.input(s).shape == Shape([e[0], e[1], .known(1)]) else {
                throw ShapeError("expected dy [\(e[0]), \(e[1]), 1], got \(q.input(s).shape)")
            }
            guard q.input(s + 1).shape == Shape([e[0], e[2]]) else {
                throw ShapeError("expected dec [\(e[0]), \(e[2])], got \(q.input(s + 1).shape)")
            }
        }
        return q.input(0)
    }
}

/// `additive_scores_weight_grad_sum(enc, dy_0, dec_0, dy_1, dec_1, ...)`: [1, A], the sum over
/// the steps s of additive_scores_weight_grad(dy_s, enc, dec_s), added in step order (s = 0
/// first, as a chain of adds sums them): a decoder's gradient of its scoring weight, shared by
/// the steps, as one op made by the `attention-grad-sums` pass. Each example's part of enc is
/// read for all the steps while it is in cache.
public enum AdditiveScoresWeightGradSumOp: OpSpec {
    public static let name = "additive_scores_weight_grad_sum"
    public static let arity = Arity.atLeast(3)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// Per element of enc and step: the add, the relu and a multiply-add.
    public static func flops(_ q: CostQuery) -> Double { 4 * Double((q.inputs.count - 1) / 2) * q.count(0) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard q.inputs.count % 2 == 1 else {
            throw ShapeError("expected enc, then pairs of dy and dec; got \(q.inputs.count) operands")
        }
        try q.requireFloat(0, "enc")
        let e = q.input(0).shape
        guard e.rank == 3 else { throw ShapeError("expected enc [B, N, A], got \(e)") }
        for s in stride(from: 1, to: q.inputs.count, by: 2) {
            try q.requireFloat(s, "dy"); try q.requireFloat(s + 1, "dec")
            guard q.input(s).shape == Shape([e[0], e[1], .known(1)]) else {
                throw ShapeError("expected dy [\(e[0]), \(e[1]), 1], got \(q.input(s).shape)")
            }
            guard q.input(s + 1).shape == Shape([e[0], e[2]]) else {
                throw ShapeError("expected dec [\(e[0]), \(e[2])], got \(q.input(s + 1).shape)")
            }
        }
        return .f32(Shape([.known(1), e[2]]))
    }
}

/// `additive_scores_dec_grad(dy, enc, dec, w)`: [B, A], w[0, a] Σ_n dy[b, n, 0] where
/// enc[b, n, a] + dec[b, a] > 0: the gradient of dec (additive_scores_grad summed over the
/// regions, without writing it).
public enum AdditiveScoresDecGradOp: OpSpec {
    public static let name = "additive_scores_dec_grad"
    public static let arity = Arity.exactly(4)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// Per element of enc: the add, the test and the accumulation.
    public static func flops(_ q: CostQuery) -> Double { 3 * q.count(1) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        _ = try AdditiveScoresShapes.checkGradient(q, weight: 3)
        return q.input(2)
    }
}

/// `additive_scores_weight_grad(dy, enc, dec)`: [1, A], Σ_{b,n} dy[b, n, 0] relu(enc[b, n, a] +
/// dec[b, a]): the gradient of the scoring weight.
public enum AdditiveScoresWeightGradOp: OpSpec {
    public static let name = "additive_scores_weight_grad"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// Per element of enc: the add, the relu and a multiply-add.
    public static func flops(_ q: CostQuery) -> Double { 4 * q.count(1) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let (_, _, a) = try AdditiveScoresShapes.checkGradient(q, weight: nil)
        return .f32(Shape([.known(1), a]))
    }
}

extension OpDef {
    public static let additiveScores = OpDef(AdditiveScoresOp.self)
    public static let additiveScoresGrad = OpDef(AdditiveScoresGradOp.self)
    public static let additiveScoresWeightGrad = OpDef(AdditiveScoresWeightGradOp.self)
    public static let additiveScoresDecGrad = OpDef(AdditiveScoresDecGradOp.self)
    public static let additiveScoresGradSum = OpDef(AdditiveScoresGradSumOp.self)
    public static let additiveScoresWeightGradSum = OpDef(AdditiveScoresWeightGradSumOp.self)
}
