// The backward of log_softmax followed by NLL as one op.

/// `log_softmax_nll_grad(dy, logp, target) {ignore_index?}`: the gradient of
/// `nll_loss(log_softmax(z), target)` with respect to z, from logp = log_softmax(z) along
/// the last axis: `(exp(logp) - onehot(target)) * dy / count` on rows whose target counts
/// (not ignore_index, inside the classes) and 0 on the others, count being the number of
/// such rows. It equals log_softmax_grad(nll_loss_grad(dy, logp, target), logp) in one pass
/// instead of three. A gradient op itself: it has no gradient rule (autodiff refuses it).
public enum LogSoftmaxNllGradOp: OpSpec {
    public static let name = "log_softmax_nll_grad"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.opaque
    public static let attributes = NllLossOp.attributes
    /// Per element: exp, the one-hot difference and the scaling.
    public static func flops(_ q: CostQuery) -> Double { 3 * q.outputCount }
    public static let indexOperand: IndexOperand? = IndexOperand(ids: 2, limit: 1, axis: -1, meaning: .classLabel, ignore: .ignoreIndex)
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "incoming gradient")
        guard q.input(0).rank == 0 else { throw ShapeError("the incoming gradient must be a scalar, got \(q.input(0))") }
        _ = try NllLossOp.shape(ShapeQuery(inputs: [q.input(1), q.input(2)], attributes: q.attributes))
        return q.input(1)
    }
}

extension OpDef {
    public static let logSoftmaxNllGrad = OpDef(LogSoftmaxNllGradOp.self)
}
