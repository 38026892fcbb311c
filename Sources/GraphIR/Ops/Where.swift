// Picking each element from one of two tensors by a condition (ONNX Where).

/// `where(cond, x, y)`: x's element where cond is nonzero, y's elsewhere, the three operands
/// broadcast together like `add`. cond is i64 (ONNX's bool imports as 0 and 1) or f32 (NaN
/// counts as nonzero); x and y share one element type, f32 or i64, which the result has. Unlike
/// `cond * x + (1 - cond) * y` the element not picked is never read into the result, so an
/// infinity or NaN there does not leak.
public enum WhereOp: OpSpec {
    public static let name = "where"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// One test per element.
    public static func flops(_ q: CostQuery) -> Double { q.outputCount }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let x = q.input(1), y = q.input(2)
        guard x.dtype == y.dtype else { throw ShapeError("x and y must have one element type, got \(x) and \(y)") }
        return TensorType(x.dtype, try broadcastShapes(try broadcastShapes(q.input(0).shape, x.shape), y.shape))
    }
}
extension WhereOp: DifferentiableOp {
    /// The gradient goes to x where cond holds and to y elsewhere (each summed over the axes
    /// it was broadcast along); the condition has none.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let zero = try c.constant(0), cond = c.input(0)
        return [
            nil,
            c.needs(1) ? try c.unbroadcast(try c.emit(.where, [cond, c.gradient, zero]), to: c.input(1)) : nil,
            c.needs(2) ? try c.unbroadcast(try c.emit(.where, [cond, zero, c.gradient]), to: c.input(2)) : nil,
        ]
    }
}

extension OpDef {
    public static let `where` = OpDef(WhereOp.self)
}
