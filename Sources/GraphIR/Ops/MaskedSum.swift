// A reduction of a masked gradient that never writes the masked tensor.

/// `relu_grad_sum(dy, t) {axes}`: the sum over `axes` of `relu_grad(dy, t)` (dy where t > 0,
/// else 0), dy and t of the same shape. Made by the `pool-gradient-sums` pass: a convolution's
/// bias gradient summed from the pooled gradient and the pooled output instead of from the
/// full-resolution gradient the max-pool backward writes, a quarter of the data for a 2x2
/// pooling. A backward op: it has no gradient of its own.
public enum ReluGradSumOp: OpSpec {
    public static let name = "relu_grad_sum"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = [.required(.axes)]
    /// A test and an add per element of dy.
    public static func flops(_ q: CostQuery) -> Double { 2 * q.count(0) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "gradient"); try q.requireFloat(1)
        guard q.input(0).shape == q.input(1).shape else {
            throw ShapeError("operands must have the same shape, got \(q.input(0)) and \(q.input(1))")
        }
        return .f32(try SumOp.reducedShape(q))
    }
}

extension OpDef {
    public static let reluGradSum = OpDef(ReluGradSumOp.self)
}
