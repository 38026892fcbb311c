// Gathering slices along an axis by index (ONNX Gather).

/// `gather(x, indices) {axis}`: x [A..., n, B...] and i64 indices [I...] give [A..., I..., B...],
/// the slice at each index. Indices must lie in 0..<n (checked before the node runs; an
/// importer turns ONNX's negative constant indices into these).
public enum GatherOp: OpSpec {
    public static let name = "gather"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = [.required(.axis)]
    /// Copies only.
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static let indexOperand: IndexOperand? = IndexOperand(ids: 1, limit: 0, axis: 0, meaning: .position, axisAttribute: .axis)
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0)
        guard q.input(1).dtype == .i64 else { throw ShapeError("indices must be i64, got \(q.input(1))") }
        let x = q.input(0).shape
        guard x.rank >= 1 else { throw ShapeError("gather needs an input of rank at least 1, got \(q.input(0))") }
        let axis = try q.axis(.axis, rank: x.rank)
        return .f32(Shape(Array(x.dims[..<axis]) + q.input(1).shape.dims + Array(x.dims[(axis + 1)...])))
    }
}
extension GatherOp: DifferentiableOp {
    /// The gradient's slices added back at their indices; indices are integers.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [c.needs(0) ? try c.emit(.gatherGrad, [c.gradient, c.input(1), c.input(0)], c.attributes) : nil, nil]
    }
}

/// `gather_grad(dy, indices, x) {axis}`: zeros shaped like x with each slice of dy added at its
/// index along `axis` (repeated indices add).
public enum GatherGradOp: OpSpec {
    public static let name = "gather_grad"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = [.required(.axis)]
    /// An add per element of dy.
    public static func flops(_ q: CostQuery) -> Double { q.count(0) }
    public static let indexOperand: IndexOperand? = IndexOperand(ids: 1, limit: 2, axis: 0, meaning: .position, axisAttribute: .axis)
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let y = try GatherOp.shape(ShapeQuery(inputs: [q.input(2), q.input(1)], attributes: q.attributes))
        guard q.input(0) == y else { throw ShapeError("gradient \(q.input(0)) must be the gathered type \(y)") }
        return q.input(2)
    }
}

extension OpDef {
    public static let gather = OpDef(GatherOp.self)
    public static let gatherGrad = OpDef(GatherGradOp.self)
}
