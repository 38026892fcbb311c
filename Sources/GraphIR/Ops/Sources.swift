// Source ops: values that come from outside the computation.

extension AttributeKey where Value == String {
    /// The name an input is fed by or a parameter is stored under.
    public static let name = AttributeKey("name")
    /// A parameter's initialiser: `uniform`, `normal`, `zeros`, `ones` or `constant`.
    public static let initializer = AttributeKey("init")
}
extension AttributeKey where Value == Double {
    /// `uniform` draws from [-bound, bound], or from [low, high].
    public static let bound = AttributeKey("bound")
    public static let low = AttributeKey("low")
    public static let high = AttributeKey("high")
    /// `normal` draws with this mean (default 0) and standard deviation.
    public static let mean = AttributeKey("mean")
    public static let std = AttributeKey("std")
    /// A constant's value, and a `constant`-initialised parameter's.
    public static let value = AttributeKey("value")
    /// The probability that dropout zeroes an element.
    public static let dropProbability = AttributeKey("p")
}
extension AttributeKey where Value == Bool {
    /// State that is not a parameter (BatchNorm's running statistics).
    public static let buffer = AttributeKey("buffer")
    /// `false` freezes a parameter.
    public static let trainable = AttributeKey("trainable")
}

/// A graph input, fed by the caller. `{name}`; its type is its declaration. An input taken
/// reduced (`reduced-inputs`, see `FeedReduction`) also has `{fed, reduce, axes, keepdims}`:
/// the caller feeds `fed`, and the executor keeps only its `reduce` ("mean" or "sum") over
/// `axes`, the declared type.
public enum InputOp: OpSpec {
    public static let name = "input"
    public static let arity = Arity.exactly(0)
    public static let fusion = FusionClass.source
    public static let attributes: [AttributeSpec] = [.required(.name, .nonEmpty), .optional(.fed),
                                                     .optional(.feedReduce, .oneOf(["mean", "sum"])), .optional(.axes), .optional(.keepdims)]
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static func shape(_ q: ShapeQuery) throws -> TensorType { throw ShapeError("an input's type is declared, not inferred") }
}

/// A trainable weight `{name, init, ...}`: the initialiser and its arguments (`uniform` with
/// `bound` or `low`/`high`, `normal` with `std`, `zeros`, `ones`). `buffer=true` marks state
/// that is not a parameter (BatchNorm's running statistics); `trainable=false` a frozen weight.
public enum ParamOp: OpSpec {
    public static let name = "param"
    public static let arity = Arity.exactly(0)
    public static let fusion = FusionClass.source
    public static let attributes: [AttributeSpec] = [
        .required(.name, .nonEmpty), .optional(.initializer, .oneOf(["uniform", "normal", "zeros", "ones", "constant"])),
        .optional(.bound, .atLeast(0)), .optional(.low), .optional(.high), .optional(.mean), .optional(.std, .atLeast(0)),
        .optional(.value), .optional(.buffer), .optional(.trainable),
    ]
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static func shape(_ q: ShapeQuery) throws -> TensorType { throw ShapeError("a parameter's type is declared, not inferred") }
}

/// A scalar f32 constant `{value}` (broadcasts against anything).
public enum ConstantOp: OpSpec {
    public static let name = "constant"
    public static let arity = Arity.exactly(0)
    public static let fusion = FusionClass.source
    public static let attributes: [AttributeSpec] = [.required(.value)]
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard q.attributes[.value] != nil else { throw ShapeError("missing attribute 'value'") }
        return .f32([])
    }
}

/// Inverted-dropout mask shaped like its input `{p}`: each element is 0 with probability p,
/// else 1/(1-p). A value of its own, so dropout's gradient is a plain multiply. In
/// evaluation the runtime writes ones.
public enum DropoutMaskOp: OpSpec {
    public static let name = "dropout_mask"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.source
    public static let isRandom = true
    public static let attributes: [AttributeSpec] = [.required(.dropProbability, .halfOpen(0, 1))]
    /// One draw per element.
    public static func flops(_ q: CostQuery) -> Double { q.outputCount }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard let p = q.attributes[.dropProbability], p >= 0, p < 1 else { throw ShapeError("dropout probability 'p' must be in [0, 1)") }
        return .f32(q.input(0).shape)
    }
}
extension DropoutMaskOp: DifferentiableOp {
    /// The mask is a constant drawn per step; its input only lends a shape.
    public static func gradient(_ c: GradientContext) throws -> [Value?] { [nil] }
}

extension OpDef {
    public static let input = OpDef(InputOp.self)
    public static let param = OpDef(ParamOp.self)
    public static let constant = OpDef(ConstantOp.self)
    public static let dropoutMask = OpDef(DropoutMaskOp.self)
}
