// Largest and smallest elements over axes (ONNX ReduceMax / ReduceMin; global max pooling).

/// The type of reduce_max and reduce_min: f32 or i64 (ONNX's integers and bools, 0/1) as x.
func extremumType(_ q: ShapeQuery) throws -> TensorType {
    let x = q.input(0)
    guard x.dtype == .f32 || x.dtype == .i64 else { throw ShapeError("input must be f32 or i64, got \(x)") }
    return TensorType(x.dtype, try ReduceMaxOp.reducedShape(q))
}

/// `reduce_max(x) {axes, keepdims?}`: the largest element over `axes`; NaN wins. On i64 too
/// (a bool tensor's max is its any); an empty reduction gives 0.
public enum ReduceMaxOp: AxesReductionOp {
    public static let name = "reduce_max"
    public static func shape(_ q: ShapeQuery) throws -> TensorType { try extremumType(q) }
}
extension ReduceMaxOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.reduceExtremumGrad, [c.gradient, c.input(0), c.result], c.attributes)]
    }
}

/// `reduce_min(x) {axes, keepdims?}`: the smallest element over `axes`; NaN wins. On i64 too
/// (a bool tensor's min is its all); an empty reduction gives 0.
public enum ReduceMinOp: AxesReductionOp {
    public static let name = "reduce_min"
    public static func shape(_ q: ShapeQuery) throws -> TensorType { try extremumType(q) }
}
extension ReduceMinOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.reduceExtremumGrad, [c.gradient, c.input(0), c.result], c.attributes)]
    }
}

/// `reduce_extremum_grad(dy, x, y) {axes, keepdims?}`: the gradient of reduce_max or
/// reduce_min with result y: each dy shared equally among the elements of x equal to its y
/// (ties split it, as PyTorch's amax), 0 elsewhere.
public enum ReduceExtremumGradOp: OpSpec {
    public static let name = "reduce_extremum_grad"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = [.required(.axes), .optional(.keepdims)]
    /// Two comparisons per element of x.
    public static func flops(_ q: CostQuery) -> Double { 2 * q.count(1) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(1)
        let y = try ReduceMaxOp.shape(ShapeQuery(inputs: [q.input(1)], attributes: q.attributes))
        guard q.input(0) == y, q.input(2) == y else {
            throw ShapeError("gradient \(q.input(0)) and result \(q.input(2)) must be the reduced type \(y)")
        }
        return q.input(1)
    }
}

extension OpDef {
    public static let reduceMax = OpDef(ReduceMaxOp.self)
    public static let reduceMin = OpDef(ReduceMinOp.self)
    public static let reduceExtremumGrad = OpDef(ReduceExtremumGradOp.self)
}
