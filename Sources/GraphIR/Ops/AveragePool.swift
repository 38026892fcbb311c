// Average pooling over [N, C, H, W] (ONNX AveragePool; GlobalAveragePool is `mean` over axes
// [2, 3] with keepdims).

extension AttributeKey where Value == Bool {
    /// Whether an average's divisor counts the padding inside the window (default: false).
    public static let countIncludePad = AttributeKey("count_include_pad")
}

/// `avgpool2d(x) {kernel, stride, padding, ceil_mode?, count_include_pad?}` over the last two
/// axes of [N,C,H,W]. Each output is the sum of its window's elements inside the image divided
/// by their number, or with `count_include_pad` by the window's size clipped to the padded
/// input (a ceil_mode window hanging past the end padding counts only up to it), as PyTorch.
public enum Avgpool2dOp: OpSpec {
    public static let name = "avgpool2d"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static let attributes = poolingWindow + [.optional(.countIncludePad)]
    /// An add per output element and window position, and a divide.
    public static func flops(_ q: CostQuery) -> Double { q.outputCount * (windowSize(q) + 1) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireRank(0, 4...4)
        let k = try q.required(.kernelSize, count: 2)
        let window = try Window2d(checking: q)
        for i in 0..<2 where window.padBegin[i] >= k[i] || window.padEnd[i] >= k[i] {
            throw ShapeError("avgpool2d: padding \(window.padBegin[i]), \(window.padEnd[i]) must be smaller than the kernel \(k[i])")
        }
        return try window2d(q, input: q.input(0), channels: q.input(0).shape[1], kernel: k,
                            ceilMode: q.attributes[.ceilMode] ?? false, what: "avgpool2d")
    }
}
extension Avgpool2dOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.avgpool2dGrad, [c.gradient, c.input(0)], c.attributes)]
    }
}

/// `avgpool2d_grad(dy, x) {kernel, stride, padding, ceil_mode?, count_include_pad?}`: spreads
/// each dy over its window's elements inside the image, divided as the forward divides (x
/// gives the shape).
public enum Avgpool2dGradOp: OpSpec {
    public static let name = "avgpool2d_grad"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static let attributes = Avgpool2dOp.attributes
    /// An add per dy element and window position.
    public static func flops(_ q: CostQuery) -> Double { q.count(0) * (windowSize(q) + 1) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "gradient"); try q.requireRank(0, 4...4, "gradient"); try q.requireRank(1, 4...4)
        let y = try Avgpool2dOp.shape(ShapeQuery(inputs: [q.input(1)], attributes: q.attributes))
        guard y.shape == q.input(0).shape else { throw ShapeError("gradient \(q.input(0)) must be the pooled shape \(y.shape)") }
        return q.input(1)
    }
}

extension OpDef {
    public static let avgpool2d = OpDef(Avgpool2dOp.self)
    public static let avgpool2dGrad = OpDef(Avgpool2dGradOp.self)
}
