// Softmax, log-softmax and the negative log-likelihood loss.

private let alongAxis: ShapeRule = { q in
    try q.requireFloat(0)
    _ = try q.axis("axis", rank: q.input(0).rank)
    return q.input(0)
}

private let gradAlongAxis: ShapeRule = { q in
    try q.requireFloat(0); try q.requireFloat(1)
    guard q.input(0).shape == q.input(1).shape else { throw ShapeError("\(q.input(0)) and \(q.input(1)) differ") }
    _ = try q.axis("axis", rank: q.input(0).rank)
    return q.input(0)
}

extension OpDef {
    public static let softmax = OpDef("softmax", arity: .exactly(1), fusion: .reduction, shape: alongAxis)
    public static let logSoftmax = OpDef("log_softmax", arity: .exactly(1), fusion: .reduction, shape: alongAxis)
    /// `softmax_grad(dy, y) {axis}` with y the softmax output: y * (dy - sum(dy * y)).
    public static let softmaxGrad = OpDef("softmax_grad", arity: .exactly(2), fusion: .reduction, shape: gradAlongAxis)
    /// `log_softmax_grad(dy, y) {axis}` with y the log-softmax output: dy - exp(y) * sum(dy).
    public static let logSoftmaxGrad = OpDef("log_softmax_grad", arity: .exactly(2), fusion: .reduction, shape: gradAlongAxis)

    /// `nll_loss(logp, target) {ignore_index?}`: logp [N, C] (or [N, T, C] with target
    /// [N, T]); the mean of -logp[target] over targets that are not ignore_index. A scalar.
    public static let nllLoss = OpDef("nll_loss", arity: .exactly(2), fusion: .opaque, shape: { q in
        try q.requireFloat(0, "log-probabilities")
        let lp = q.input(0), t = q.input(1)
        guard t.dtype == .i64 else { throw ShapeError("targets must be i64 class indices, got \(t)") }
        guard lp.rank >= 2, Array(lp.shape.dims.dropLast()) == t.shape.dims else {
            throw ShapeError("log-probabilities \(lp) do not match targets \(t): expected targets of shape \(Shape(Array(lp.shape.dims.dropLast())))")
        }
        return .f32([])
    })

    /// `nll_loss_grad(dy, logp, target) {ignore_index?}`: -dy/count at each target position.
    public static let nllLossGrad = OpDef("nll_loss_grad", arity: .exactly(3), fusion: .opaque, shape: { q in
        try q.requireFloat(0)
        return q.input(1)
    })
}
