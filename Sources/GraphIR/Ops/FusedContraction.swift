// Contractions with their epilogue: the bias add and activation that follow a matrix product
// or a convolution, applied while the product's output is still in cache. The fusion pass
// makes them; they keep the unfused ops' gradients (so fusion may also run before autodiff).

/// The activations an epilogue can apply.
enum EpilogueActivation: String, CaseIterable {
    case none, relu

    init(_ a: Attributes) throws {
        guard let v = EpilogueActivation(rawValue: a[.activation] ?? "none") else {
            throw ShapeError("activation must be \"none\" or \"relu\", got \"\(a[.activation] ?? "")\"")
        }
        self = v
    }

    /// The optional `activation` attribute (default `none`).
    static let spec = AttributeSpec.optional(.activation, .oneOf(allCases.map(\.rawValue)))
}

extension AttributeKey where Value == String {
    /// The activation a fused contraction's epilogue applies: `none` or `relu`.
    public static let activation = AttributeKey("activation")
}

/// `fused_matmul(a, b, bias) {transpose_a, transpose_b, activation}`:
/// `activation(matmul(a, b) + bias)` with bias [N] added to every row.
public enum FusedMatmulOp: OpSpec {
    public static let name = "fused_matmul"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.contraction
    public static let attributes = MatmulOp.attributes + [EpilogueActivation.spec]
    /// The product's; the epilogue is one pass over the result, small beside it.
    public static func flops(_ q: CostQuery) -> Double { MatmulOp.flops(q) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        _ = try EpilogueActivation(q.attributes)
        let y = try MatmulOp.shape(ShapeQuery(inputs: Array(q.inputs.prefix(2)), attributes: q.attributes))
        try q.requireFloat(2, "bias")
        guard let n = y.shape.dims.last, q.input(2).shape == Shape([n]) else {
            throw ShapeError("bias \(q.input(2)) must be [\(y.shape.dims.last.map { "\($0)" } ?? "?")], one value per output column")
        }
        return y
    }
}
extension FusedMatmulOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let pre = try epilogueGradient(c)
        let product = Node(op: .matmul, inputs: Array(c.inputs.prefix(2)), attributes: c.attributes, type: c.type(c.result))
        let d = try MatmulOp.gradient(GradientContext(builder: c.builder, node: product, result: c.result, gradient: pre,
                                                      needed: Array(c.needed.prefix(2))))
        return d + [c.needs(2) ? try c.unbroadcast(pre, to: c.input(2)) : nil]
    }
}

/// `fused_conv2d(x, w[, b]) {stride, padding, activation}`: `activation(conv2d(x, w, b))`.
public enum FusedConv2dOp: OpSpec {
    public static let name = "fused_conv2d"
    public static let arity = Arity.between(2, 3)
    public static let fusion = FusionClass.contraction
    public static let attributes = Conv2dOp.attributes + [EpilogueActivation.spec]
    /// The convolution's; the epilogue is one pass over the result, small beside it.
    public static func flops(_ q: CostQuery) -> Double { Conv2dOp.flops(q) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        _ = try EpilogueActivation(q.attributes)
        return try Conv2dOp.shape(q)
    }
}
extension FusedConv2dOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let pre = try epilogueGradient(c)
        let conv = Node(op: .conv2d, inputs: c.inputs, attributes: c.attributes, type: c.type(c.result))
        return try Conv2dOp.gradient(GradientContext(builder: c.builder, node: conv, result: c.result, gradient: pre, needed: c.needed))
    }
}

/// The gradient before the activation. relu_grad may test the activation's output instead
/// of its input: relu(p) > 0 exactly when p > 0 (and both are false for NaN).
func epilogueGradient(_ c: GradientContext) throws -> Value {
    switch try EpilogueActivation(c.attributes) {
    case .none: return c.gradient
    case .relu: return try c.emit(.reluGrad, [c.gradient, c.result])
    }
}

extension OpDef {
    public static let fusedMatmul = OpDef(FusedMatmulOp.self)
    public static let fusedConv2d = OpDef(FusedConv2dOp.self)
}
