// Element-by-element maps. Binary ops broadcast like numpy.

private let unaryFloat: ShapeRule = { q in
    try q.requireFloat(0)
    return q.input(0)
}

private let binaryBroadcast: ShapeRule = { q in
    try q.requireFloat(0, "left operand"); try q.requireFloat(1, "right operand")
    return .f32(try broadcastShapes(q.input(0).shape, q.input(1).shape))
}

/// `(a, b) -> b's gradient flowing to a`: the shape `a` had, with broadcast axes summed.
private let sameAsFirst: ShapeRule = { q in
    try q.requireFloat(0); try q.requireFloat(1)
    guard q.input(0).shape == q.input(1).shape else {
        throw ShapeError("operands must have the same shape, got \(q.input(0)) and \(q.input(1))")
    }
    return q.input(0)
}

extension OpDef {
    public static let relu = OpDef("relu", arity: .exactly(1), fusion: .elementwise, shape: unaryFloat)
    public static let sigmoid = OpDef("sigmoid", arity: .exactly(1), fusion: .elementwise, shape: unaryFloat)
    public static let tanh = OpDef("tanh", arity: .exactly(1), fusion: .elementwise, shape: unaryFloat)
    public static let exp = OpDef("exp", arity: .exactly(1), fusion: .elementwise, shape: unaryFloat)
    public static let log = OpDef("log", arity: .exactly(1), fusion: .elementwise, shape: unaryFloat)
    public static let neg = OpDef("neg", arity: .exactly(1), fusion: .elementwise, shape: unaryFloat)
    /// `x * factor` for a compile-time `{factor}`.
    public static let scale = OpDef("scale", arity: .exactly(1), fusion: .elementwise, shape: { q in
        guard q.attributes.float("factor") != nil else { throw ShapeError("missing attribute 'factor'") }
        return try unaryFloat(q)
    })
    /// Clamp to `[min, max]` (gradient clipping by value uses this).
    public static let clamp = OpDef("clamp", arity: .exactly(1), fusion: .elementwise, shape: { q in
        guard let lo = q.attributes.float("min"), let hi = q.attributes.float("max"), lo <= hi else {
            throw ShapeError("clamp needs attributes 'min' <= 'max'")
        }
        return try unaryFloat(q)
    })

    public static let add = OpDef("add", arity: .exactly(2), fusion: .elementwise, shape: binaryBroadcast)
    public static let sub = OpDef("sub", arity: .exactly(2), fusion: .elementwise, shape: binaryBroadcast)
    public static let mul = OpDef("mul", arity: .exactly(2), fusion: .elementwise, shape: binaryBroadcast)
    public static let div = OpDef("div", arity: .exactly(2), fusion: .elementwise, shape: binaryBroadcast)

    /// `relu_grad(dy, x)`: dy where x > 0, else 0.
    public static let reluGrad = OpDef("relu_grad", arity: .exactly(2), fusion: .elementwise, shape: sameAsFirst)
}
