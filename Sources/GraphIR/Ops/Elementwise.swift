#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Element-by-element maps. Binary ops broadcast like numpy. Each declares its scalar function
// (`ElementwiseOp`), which its kernels, the fused interpreter and constant folding evaluate.

extension AttributeKey where Value == Double {
    /// `scale`'s multiplier.
    public static let factor = AttributeKey("factor")
    /// `clamp`'s bounds.
    public static let min = AttributeKey("min")
    public static let max = AttributeKey("max")
}

/// f32 in, same type out: one operation per element, and the result may overwrite the input.
public protocol UnaryElementwiseOp: ElementwiseOp {
    static func apply(_ x: Float, _ k: ScalarConstants) -> Float
}
extension UnaryElementwiseOp {
    @inlinable @inline(__always)
    public static func scalar(_ a: Float, _ b: Float, _ k: ScalarConstants) -> Float { apply(a, k) }
    public static var arity: Arity { .exactly(1) }
    public static var fusion: FusionClass { .elementwise }
    public static var attributes: [AttributeSpec] { [] }
    public static func flops(_ q: CostQuery) -> Double { q.outputCount }
    public static var inPlaceOperands: InPlaceOperands { .inputs([0]) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0)
        return q.input(0)
    }
}

/// Two f32 operands broadcast together: one operation per element of the result, which may
/// overwrite either operand (when it has the result's type).
public protocol BinaryElementwiseOp: ElementwiseOp {
    static func apply(_ a: Float, _ b: Float) -> Float
}
extension BinaryElementwiseOp {
    @inlinable @inline(__always)
    public static func scalar(_ a: Float, _ b: Float, _ k: ScalarConstants) -> Float { apply(a, b) }
    public static var arity: Arity { .exactly(2) }
    public static var fusion: FusionClass { .elementwise }
    public static var attributes: [AttributeSpec] { [] }
    public static func flops(_ q: CostQuery) -> Double { q.outputCount }
    public static var inPlaceOperands: InPlaceOperands { .inputs([0, 1]) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "left operand"); try q.requireFloat(1, "right operand")
        return .f32(try broadcastShapes(q.input(0).shape, q.input(1).shape))
    }
}

/// A broadcasting binary op that also computes on two i64 operands (ONNX's integer Add, Div,
/// Max, ...): `apply(integers:_:)` is its function there, which the kernel and the importer's
/// folding both evaluate. The result has the operands' element type; an f32 operand with an
/// i64 one is an error (a `cast` makes them agree). Integer arithmetic wraps on overflow and
/// never traps. Gradients stay f32: autodiff never differentiates an i64 value.
public protocol IntegerElementwiseOp: BinaryElementwiseOp {
    static func apply(integers a: Int64, _ b: Int64) -> Int64
}
extension IntegerElementwiseOp {
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let a = q.input(0), b = q.input(1)
        guard a.dtype == b.dtype else {
            throw ShapeError("operands must be both f32 or both i64, got \(a) and \(b)")
        }
        return TensorType(a.dtype, try broadcastShapes(a.shape, b.shape))
    }
}

public enum ReluOp: UnaryElementwiseOp { public static let name = "relu" }
extension ReluOp {
    public static let opcode = 0
    @inlinable @inline(__always) public static func apply(_ x: Float, _: ScalarConstants) -> Float { max(x, 0) }
}
extension ReluOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.reluGrad, [c.gradient, c.input(0)])]
    }
}
public enum SigmoidOp: UnaryElementwiseOp { public static let name = "sigmoid" }
extension SigmoidOp {
    public static let opcode = 1
    @inlinable @inline(__always) public static func apply(_ x: Float, _: ScalarConstants) -> Float { fastSigmoid(x) }
}
extension SigmoidOp: DifferentiableOp {
    /// dy * y * (1 - y), from the forward result.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let oneMinusY = try c.emit(.sub, [try c.constant(1), c.result])
        return [try c.emit(.mul, [c.gradient, try c.emit(.mul, [c.result, oneMinusY])])]
    }
}
public enum TanhOp: UnaryElementwiseOp { public static let name = "tanh" }
extension TanhOp {
    public static let opcode = 2
    @inlinable @inline(__always) public static func apply(_ x: Float, _: ScalarConstants) -> Float { fastTanh(x) }
}
extension TanhOp: DifferentiableOp {
    /// dy * (1 - y²), from the forward result.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let y2 = try c.emit(.mul, [c.result, c.result])
        return [try c.emit(.mul, [c.gradient, try c.emit(.sub, [try c.constant(1), y2])])]
    }
}
public enum ExpOp: UnaryElementwiseOp { public static let name = "exp" }
extension ExpOp {
    public static let opcode = 3
    @inlinable @inline(__always) public static func apply(_ x: Float, _: ScalarConstants) -> Float { fastExp(x) }
}
extension ExpOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.mul, [c.gradient, c.result])]
    }
}
public enum LogOp: UnaryElementwiseOp { public static let name = "log" }
extension LogOp {
    public static let opcode = 4
    @inlinable @inline(__always) public static func apply(_ x: Float, _: ScalarConstants) -> Float { logf(x) }
}
extension LogOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.div, [c.gradient, c.input(0)])]
    }
}
public enum NegOp: UnaryElementwiseOp { public static let name = "neg" }
extension NegOp {
    public static let opcode = 5
    @inlinable @inline(__always) public static func apply(_ x: Float, _: ScalarConstants) -> Float { -x }
}
extension NegOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.neg, [c.gradient])]
    }
}

/// `x * factor` for a compile-time `{factor}`.
public enum ScaleOp: UnaryElementwiseOp {
    public static let name = "scale"
    public static let attributes: [AttributeSpec] = [.required(.factor)]
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard q.attributes[.factor] != nil else { throw ShapeError("missing attribute 'factor'") }
        try q.requireFloat(0)
        return q.input(0)
    }
}
extension ScaleOp {
    public static let opcode = 6
    public static let constantNames = ["factor"]
    @inlinable @inline(__always) public static func apply(_ x: Float, _ k: ScalarConstants) -> Float { x * k.first }
}
extension ScaleOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.scale, [c.gradient], ["factor": .float(c.attributes[.factor] ?? 1)])]
    }
}

/// Clamp to `{min, max}` (gradient clipping by value).
public enum ClampOp: UnaryElementwiseOp {
    public static let name = "clamp"
    public static let attributes: [AttributeSpec] = [.required(.min), .required(.max)]
    /// A comparison with each bound.
    public static func flops(_ q: CostQuery) -> Double { 2 * q.outputCount }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard let lo = q.attributes[.min], let hi = q.attributes[.max], lo <= hi else {
            throw ShapeError("clamp needs attributes 'min' <= 'max'")
        }
        try q.requireFloat(0)
        return q.input(0)
    }
}
extension ClampOp {
    public static let opcode = 7
    public static let constantNames = ["min", "max"]
    /// NaN stays NaN (max and min return their first operand when unordered).
    @inlinable @inline(__always) public static func apply(_ x: Float, _ k: ScalarConstants) -> Float { min(max(x, k.first), k.second) }
}
extension ClampOp: DifferentiableOp {
    /// dy where min < x < max, else 0: two relu_grad masks on x - min and max - x (in IEEE
    /// arithmetic with subnormals a difference is positive exactly when x is strictly inside).
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let x = c.input(0)
        let aboveMin = try c.emit(.sub, [x, try c.constant(c.attributes[.min] ?? 0)])
        let belowMax = try c.emit(.sub, [try c.constant(c.attributes[.max] ?? 0), x])
        let g = try c.emit(.reluGrad, [c.gradient, aboveMin])
        return [try c.emit(.reluGrad, [g, belowMax])]
    }
}

public enum AddOp: IntegerElementwiseOp { public static let name = "add" }
extension AddOp {
    public static let opcode = 10
    @inlinable @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a + b }
    @inlinable @inline(__always) public static func apply(integers a: Int64, _ b: Int64) -> Int64 { a &+ b }
}
extension AddOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        try c.perInput { try c.unbroadcast(c.gradient, to: c.input($0)) }
    }
}
public enum SubOp: IntegerElementwiseOp { public static let name = "sub" }
extension SubOp {
    public static let opcode = 11
    @inlinable @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a - b }
    @inlinable @inline(__always) public static func apply(integers a: Int64, _ b: Int64) -> Int64 { a &- b }
}
extension SubOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        try c.perInput { i in
            let g = try c.unbroadcast(c.gradient, to: c.input(i))
            return i == 0 ? g : try c.emit(.neg, [g])
        }
    }
}
public enum MulOp: IntegerElementwiseOp { public static let name = "mul" }
extension MulOp {
    public static let opcode = 12
    @inlinable @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a * b }
    @inlinable @inline(__always) public static func apply(integers a: Int64, _ b: Int64) -> Int64 { a &* b }
}
extension MulOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        try c.perInput { i in
            try c.unbroadcast(try c.emit(.mul, [c.gradient, c.input(1 - i)]), to: c.input(i))
        }
    }
}
public enum DivOp: IntegerElementwiseOp { public static let name = "div" }
extension DivOp {
    public static let opcode = 13
    @inlinable @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a / b }
    /// Truncated toward zero, as C and ONNX divide integers. A zero divisor gives 0 (numpy's
    /// result; a kernel cannot report an error) and Int64.min / -1 wraps to Int64.min: both
    /// would trap in Swift.
    @inlinable @inline(__always) public static func apply(integers a: Int64, _ b: Int64) -> Int64 {
        b == 0 ? 0 : a.dividedReportingOverflow(by: b).partialValue
    }
}
extension DivOp: DifferentiableOp {
    /// a / b: dy / b for a, and -dy * a / b² = -(dy * y) / b for b, reusing the result y.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let b = c.input(1)
        return try c.perInput { i in
            if i == 0 { return try c.unbroadcast(try c.emit(.div, [c.gradient, b]), to: c.input(0)) }
            let gy = try c.emit(.div, [try c.emit(.mul, [c.gradient, c.result]), b])
            return try c.emit(.neg, [try c.unbroadcast(gy, to: b)])
        }
    }
}

/// `relu_grad(dy, x)`: dy where x > 0, else 0. Same shapes only.
public enum ReluGradOp: BinaryElementwiseOp {
    public static let name = "relu_grad"
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireFloat(1)
        guard q.input(0).shape == q.input(1).shape else {
            throw ShapeError("operands must have the same shape, got \(q.input(0)) and \(q.input(1))")
        }
        return q.input(0)
    }
}
extension ReluGradOp {
    public static let opcode = 14
    @inlinable @inline(__always) public static func apply(_ dy: Float, _ x: Float) -> Float { x > 0 ? dy : 0 }
}

extension OpDef {
    public static let relu = OpDef(ReluOp.self)
    public static let sigmoid = OpDef(SigmoidOp.self)
    public static let tanh = OpDef(TanhOp.self)
    public static let exp = OpDef(ExpOp.self)
    public static let log = OpDef(LogOp.self)
    public static let neg = OpDef(NegOp.self)
    public static let scale = OpDef(ScaleOp.self)
    public static let clamp = OpDef(ClampOp.self)
    public static let add = OpDef(AddOp.self)
    public static let sub = OpDef(SubOp.self)
    public static let mul = OpDef(MulOp.self)
    public static let div = OpDef(DivOp.self)
    public static let reluGrad = OpDef(ReluGradOp.self)
}
