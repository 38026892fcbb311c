// Softmax, log-softmax and the negative log-likelihood loss.

extension AttributeKey where Value == Int {
    /// A target class that counts neither in the loss nor in its mean (padding).
    public static let ignoreIndex = AttributeKey("ignore_index")
}

/// One f32 input normalised along `{axis}`.
public protocol AlongAxisOp: OpSpec {}
extension AlongAxisOp {
    public static var arity: Arity { .exactly(1) }
    public static var fusion: FusionClass { .reduction }
    public static var attributes: [AttributeSpec] { [.required(.axis)] }
    /// Per element: the running maximum, the shift, exp, the sum and the normalisation.
    public static func flops(_ q: CostQuery) -> Double { 5 * q.outputCount }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0)
        _ = try q.axis(.axis, rank: q.input(0).rank)
        return q.input(0)
    }
}

/// `(dy, y) {axis}` with y the forward output: the backward of an AlongAxisOp.
public protocol AlongAxisGradOp: OpSpec {}
extension AlongAxisGradOp {
    public static var arity: Arity { .exactly(2) }
    public static var fusion: FusionClass { .reduction }
    public static var attributes: [AttributeSpec] { [.required(.axis)] }
    /// Per element: a product into the row's sum, then two operations to combine it.
    public static func flops(_ q: CostQuery) -> Double { 4 * q.outputCount }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireFloat(1)
        guard q.input(0).shape == q.input(1).shape else { throw ShapeError("\(q.input(0)) and \(q.input(1)) differ") }
        _ = try q.axis(.axis, rank: q.input(0).rank)
        return q.input(0)
    }
}

public enum SoftmaxOp: AlongAxisOp { public static let name = "softmax" }
extension SoftmaxOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.softmaxGrad, [c.gradient, c.result], ["axis": .int(c.attributes[.axis] ?? -1)])]
    }
}
public enum LogSoftmaxOp: AlongAxisOp { public static let name = "log_softmax" }
extension LogSoftmaxOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.logSoftmaxGrad, [c.gradient, c.result], ["axis": .int(c.attributes[.axis] ?? -1)])]
    }
}
/// `softmax_grad(dy, y) {axis}`: y * (dy - sum(dy * y)).
public enum SoftmaxGradOp: AlongAxisGradOp { public static let name = "softmax_grad" }
/// `log_softmax_grad(dy, y) {axis}`: dy - exp(y) * sum(dy).
public enum LogSoftmaxGradOp: AlongAxisGradOp { public static let name = "log_softmax_grad" }

/// `nll_loss(logp, target) {ignore_index?}`: logp [..., C] with i64 targets [...]; the mean
/// of -logp[target] over targets that are not ignore_index. A scalar.
public enum NllLossOp: OpSpec {
    public static let name = "nll_loss"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = [.optional(.ignoreIndex)]
    /// An add per target.
    public static func flops(_ q: CostQuery) -> Double { q.count(1) }
    public static let indexOperand: IndexOperand? = IndexOperand(ids: 1, limit: 0, axis: -1, meaning: .classLabel, ignore: .ignoreIndex)
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "log-probabilities")
        let lp = q.input(0), t = q.input(1)
        guard t.dtype == .i64 else { throw ShapeError("targets must be i64 class indices, got \(t)") }
        guard lp.rank >= 2, Array(lp.shape.dims.dropLast()) == t.shape.dims else {
            throw ShapeError("log-probabilities \(lp) do not match targets \(t): expected targets of shape \(Shape(Array(lp.shape.dims.dropLast())))")
        }
        return .f32([])
    }
}
extension NllLossOp: DifferentiableOp {
    /// Targets are class indices and get no gradient.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [c.needs(0) ? try c.emit(.nllLossGrad, [c.gradient, c.input(0), c.input(1)], c.attributes) : nil, nil]
    }
}

/// `nll_loss_grad(dy, logp, target) {ignore_index?}`: -dy/count at each target position.
public enum NllLossGradOp: OpSpec {
    public static let name = "nll_loss_grad"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = [.optional(.ignoreIndex)]
    /// A division per target.
    public static func flops(_ q: CostQuery) -> Double { q.count(2) }
    public static let indexOperand: IndexOperand? = IndexOperand(ids: 2, limit: 1, axis: -1, meaning: .classLabel, ignore: .ignoreIndex)
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0)
        return q.input(1)
    }
}

extension OpDef {
    public static let softmax = OpDef(SoftmaxOp.self)
    public static let logSoftmax = OpDef(LogSoftmaxOp.self)
    public static let softmaxGrad = OpDef(SoftmaxGradOp.self)
    public static let logSoftmaxGrad = OpDef(LogSoftmaxGradOp.self)
    public static let nllLoss = OpDef(NllLossOp.self)
    public static let nllLossGrad = OpDef(NllLossGradOp.self)
}
