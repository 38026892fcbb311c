#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// More element-by-element maps (the activations and math ONNX models use). Like those in
// Elementwise.swift, each declares its scalar function, so the fusion pass, constant folding
// and the CPU kernels all evaluate it; gradients are built from other elementwise ops, so
// they fuse too.

extension AttributeKey where Value == Double {
    /// leaky_relu's negative slope; hard_sigmoid's slope.
    public static let alpha = AttributeKey("alpha")
    /// hard_sigmoid's offset.
    public static let beta = AttributeKey("beta")
    /// pow's constant exponent.
    public static let exponent = AttributeKey("exponent")
}

/// `leaky_relu(x) {alpha}`: x where x > 0, else alpha * x.
public enum LeakyReluOp: UnaryElementwiseOp {
    public static let name = "leaky_relu"
    public static let attributes: [AttributeSpec] = [.required(.alpha)]
}
extension LeakyReluOp {
    public static let opcode = 20
    public static let constantNames = ["alpha"]
    @inlinable @inline(__always) public static func apply(_ x: Float, _ k: ScalarConstants) -> Float { x > 0 ? x : x * k.first }
}
extension LeakyReluOp: DifferentiableOp {
    /// dy where x > 0, else alpha * dy: alpha * dy + relu_grad((1 - alpha) * dy, x).
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let alpha = c.attributes[.alpha] ?? 0.01
        let inside = try c.emit(.reluGrad, [try c.emit(.scale, [c.gradient], ["factor": .float(1 - alpha)]), c.input(0)])
        return [try c.emit(.add, [try c.emit(.scale, [c.gradient], ["factor": .float(alpha)]), inside])]
    }
}

/// `sqrt(x)`: NaN below 0.
public enum SqrtOp: UnaryElementwiseOp { public static let name = "sqrt" }
extension SqrtOp {
    public static let opcode = 21
    @inlinable @inline(__always) public static func apply(_ x: Float, _: ScalarConstants) -> Float { x.squareRoot() }
}
extension SqrtOp: DifferentiableOp {
    /// dy / (2 y), from the forward result.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.scale, [try c.emit(.div, [c.gradient, c.result])], ["factor": .float(0.5)])]
    }
}

/// `pow(x) {exponent}`: x raised to a constant power (C's powf: NaN for a negative x and a
/// non-integer exponent). `power(a, b)` is the form whose exponent is a tensor.
public enum PowOp: UnaryElementwiseOp {
    public static let name = "pow"
    public static let attributes: [AttributeSpec] = [.required(.exponent)]
    /// powf is a handful of operations; counted as one like exp.
    public static func flops(_ q: CostQuery) -> Double { q.outputCount }
}
extension PowOp {
    public static let opcode = 22
    public static let constantNames = ["exponent"]
    @inlinable @inline(__always) public static func apply(_ x: Float, _ k: ScalarConstants) -> Float {
        k.first == 2 ? x * x : powf(x, k.first)
    }
}
extension PowOp: DifferentiableOp {
    /// dy * p * x^(p-1); 0 for p = 0.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let p = c.attributes[.exponent] ?? 1
        guard p != 0 else { return [try c.emit(.scale, [c.gradient], ["factor": .float(0)])] }
        let slope = p == 1 ? c.gradient
            : try c.emit(.mul, [c.gradient, try c.emit(.pow, [c.input(0)], ["exponent": .float(p - 1)])])
        return [try c.emit(.scale, [slope], ["factor": .float(p)])]
    }
}

/// `power(a, b)`: a raised to b element by element, broadcasting like add (ONNX's Pow when
/// the exponent is a tensor; `pow {exponent}` is the faster form for one known exponent).
/// f32: C's powf. i64: the exact power, wrapping on overflow (`integerPower`).
public enum PowerOp: IntegerElementwiseOp { public static let name = "power" }
extension PowerOp {
    /// Codes 28 to 31 are left for other unary maps.
    public static let opcode = 32
    @inlinable @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { powf(a, b) }
    @inlinable @inline(__always) public static func apply(integers a: Int64, _ b: Int64) -> Int64 { integerPower(a, b) }
}
extension PowerOp: DifferentiableOp {
    /// As PyTorch: to a, dy * b * a^(b-1), and 0 where b = 0 (so 0^0 gives 0, not 0 * inf);
    /// to b, dy * y * log(a), and 0 where a = 0 and b >= 0 (0^b is flat in b there, where
    /// y * log(a) would be 0 * -inf). Each mask is a relu_grad on a value that is positive
    /// exactly where the gradient flows: |b|, and |a| + relu(-b).
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let a = c.input(0), b = c.input(1)
        return try c.perInput { i in
            let slope: Value, flows: Value
            if i == 0 {
                let lowered = try c.emit(.power, [a, try c.emit(.sub, [b, try c.constant(1)])])
                slope = try c.emit(.mul, [b, lowered])
                flows = try c.emit(.abs, [b])
            } else {
                slope = try c.emit(.mul, [c.result, try c.emit(.log, [a])])
                flows = try c.emit(.add, [try c.emit(.abs, [a]), try c.emit(.relu, [try c.emit(.neg, [b])])])
            }
            let g = try c.emit(.mul, [c.gradient, slope])
            let mask = c.type(flows).shape == c.type(g).shape ? flows : try c.emit(.broadcastLike, [flows, g])
            return try c.unbroadcast(try c.emit(.reluGrad, [g, mask]), to: c.input(i))
        }
    }
}

/// `base` to the power `exponent` in i64 by repeated squaring, wrapping on overflow like
/// repeated `&*`. A negative exponent gives 1 / base^-exponent truncated toward zero: 1 for a
/// base of 1, ±1 for -1, and 0 otherwise (0 too for a base of 0, as integer division by
/// zero gives).
@inlinable
public func integerPower(_ base: Int64, _ exponent: Int64) -> Int64 {
    if exponent < 0 {
        switch base {
        case 1: return 1
        case -1: return exponent & 1 == 0 ? 1 : -1
        default: return 0
        }
    }
    var result: Int64 = 1, square = base, e = exponent
    while e > 0 {
        if e & 1 == 1 { result = result &* square }
        e >>= 1
        if e > 0 { square = square &* square }
    }
    return result
}

/// `abs(x)`.
public enum AbsOp: UnaryElementwiseOp { public static let name = "abs" }
extension AbsOp {
    public static let opcode = 23
    @inlinable @inline(__always) public static func apply(_ x: Float, _: ScalarConstants) -> Float { Swift.abs(x) }
}
extension AbsOp: DifferentiableOp {
    /// dy * sign(x) (0 at 0, as PyTorch): relu_grad(dy, x) - relu_grad(dy, -x).
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let x = c.input(0)
        let positive = try c.emit(.reluGrad, [c.gradient, x])
        let negative = try c.emit(.reluGrad, [c.gradient, try c.emit(.neg, [x])])
        return [try c.emit(.sub, [positive, negative])]
    }
}

/// `erf(x)`, the Gauss error function (GELU's).
public enum ErfOp: UnaryElementwiseOp {
    public static let name = "erf"
    /// A rational approximation of some ten operations; counted as one like exp.
    public static func flops(_ q: CostQuery) -> Double { q.outputCount }
}
extension ErfOp {
    public static let opcode = 24
    @inlinable @inline(__always) public static func apply(_ x: Float, _: ScalarConstants) -> Float { erff(x) }
}
extension ErfOp: DifferentiableOp {
    /// dy * 2/√π * exp(-x²).
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let x = c.input(0)
        let gauss = try c.emit(.exp, [try c.emit(.neg, [try c.emit(.mul, [x, x])])])
        let slope = try c.emit(.scale, [gauss], ["factor": .float(2 / Double.pi.squareRoot())])
        return [try c.emit(.mul, [c.gradient, slope])]
    }
}

/// `hard_sigmoid(x) {alpha, beta}`: max(0, min(1, alpha * x + beta)) (ONNX's defaults are
/// alpha 0.2, beta 0.5; PyTorch's Hardsigmoid is alpha 1/6, beta 0.5).
public enum HardSigmoidOp: UnaryElementwiseOp {
    public static let name = "hard_sigmoid"
    public static let attributes: [AttributeSpec] = [.required(.alpha), .required(.beta)]
    /// A multiply-add and two comparisons.
    public static func flops(_ q: CostQuery) -> Double { 3 * q.outputCount }
}
extension HardSigmoidOp {
    public static let opcode = 25
    public static let constantNames = ["alpha", "beta"]
    @inlinable @inline(__always) public static func apply(_ x: Float, _ k: ScalarConstants) -> Float {
        min(max(x * k.first + k.second, 0), 1)
    }
}
extension HardSigmoidOp: DifferentiableOp {
    /// alpha * dy where 0 < alpha * x + beta < 1, else 0 (two relu_grad masks, as clamp's).
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let alpha = c.attributes[.alpha] ?? 0.2, beta = c.attributes[.beta] ?? 0.5
        let t = try c.emit(.add, [try c.emit(.scale, [c.input(0)], ["factor": .float(alpha)]), try c.constant(beta)])
        let g = try c.emit(.reluGrad, [try c.emit(.scale, [c.gradient], ["factor": .float(alpha)]), t])
        return [try c.emit(.reluGrad, [g, try c.emit(.sub, [try c.constant(1), t])])]
    }
}

/// `maximum(a, b)`: the larger operand, broadcasting like add; a NaN in either wins.
public enum MaximumOp: IntegerElementwiseOp { public static let name = "maximum" }
extension MaximumOp {
    public static let opcode = 26
    @inlinable @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a.isNaN || a > b ? a : b }
    @inlinable @inline(__always) public static func apply(integers a: Int64, _ b: Int64) -> Int64 { Swift.max(a, b) }
}
extension MaximumOp: DifferentiableOp {
    /// dy to a where a > b, to b elsewhere (ties go to b).
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        try extremumGradient(c, aWins: try c.emit(.sub, [c.input(0), c.input(1)]))
    }
}

/// `minimum(a, b)`: the smaller operand, broadcasting like add; a NaN in either wins.
public enum MinimumOp: IntegerElementwiseOp { public static let name = "minimum" }
extension MinimumOp {
    public static let opcode = 27
    @inlinable @inline(__always) public static func apply(_ a: Float, _ b: Float) -> Float { a.isNaN || a < b ? a : b }
    @inlinable @inline(__always) public static func apply(integers a: Int64, _ b: Int64) -> Int64 { Swift.min(a, b) }
}
extension MinimumOp: DifferentiableOp {
    /// dy to a where a < b, to b elsewhere (ties go to b).
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        try extremumGradient(c, aWins: try c.emit(.sub, [c.input(1), c.input(0)]))
    }
}

/// maximum's and minimum's gradients: `aWins` is positive exactly where a was picked, so a gets
/// relu_grad(dy, aWins) and b the rest, each summed back to its operand's shape.
func extremumGradient(_ c: GradientContext, aWins: Value) throws -> [Value?] {
    let toA = try c.emit(.reluGrad, [c.gradient, aWins])
    return try c.perInput { i in
        try c.unbroadcast(i == 0 ? toA : try c.emit(.sub, [c.gradient, toA]), to: c.input(i))
    }
}

extension OpDef {
    public static let maximum = OpDef(MaximumOp.self)
    public static let minimum = OpDef(MinimumOp.self)
    public static let leakyRelu = OpDef(LeakyReluOp.self)
    public static let sqrt = OpDef(SqrtOp.self)
    public static let pow = OpDef(PowOp.self)
    public static let abs = OpDef(AbsOp.self)
    public static let erf = OpDef(ErfOp.self)
    public static let hardSigmoid = OpDef(HardSigmoidOp.self)
    public static let power = OpDef(PowerOp.self)
}
