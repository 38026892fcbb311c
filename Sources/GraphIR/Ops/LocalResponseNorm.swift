#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Local response normalisation across channels (ONNX LRN; AlexNet, GoogLeNet, ZFNet).

extension AttributeKey where Value == Int {
    /// The number of channels an LRN window spans.
    public static let size = AttributeKey("size")
}
extension AttributeKey where Value == Double {
    /// LRN's additive constant (ONNX's `bias`).
    public static let lrnBias = AttributeKey("bias")
}

/// LRN's constants with ONNX's defaults, and its window over channels: channel c sums the
/// squares of channels c - floor((size-1)/2) ... c + ceil((size-1)/2) that exist.
public struct LRNParameters: Sendable {
    public let size: Int, alpha: Float, beta: Float, bias: Float
    public init(_ a: Attributes) {
        size = max(a[.size] ?? 1, 1)
        alpha = Float(a[.alpha] ?? 1e-4); beta = Float(a[.beta] ?? 0.75); bias = Float(a[.lrnBias] ?? 1)
    }
    /// Channels before and after c in c's window.
    public var before: Int { (size - 1) / 2 }
    public var after: Int { size - 1 - before }
}

let lrnAttributes: [AttributeSpec] = [
    .required(.size, .atLeast(1)), .optional(.alpha), .optional(.beta), .optional(.lrnBias),
]

/// `lrn(x) {size, alpha?, beta?, bias?}` over axis 1 of [N, C, ...]:
/// y = x / (bias + alpha / size * Σ window x²)^beta (defaults alpha 1e-4, beta 0.75, bias 1).
public enum LRNOp: OpSpec {
    public static let name = "lrn"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static let attributes = lrnAttributes
    /// A multiply-add per element and window channel, and a power and a multiply per element.
    public static func flops(_ q: CostQuery) -> Double { q.outputCount * (2 * Double(q.attributes[.size] ?? 1) + 2) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireRank(0, 3...8)
        return q.input(0)
    }
}
extension LRNOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.lrnGrad, [c.gradient, c.input(0)], c.attributes)]
    }
}

/// `lrn_grad(dy, x) {size, alpha?, beta?, bias?}`: with s the forward's denominator base,
/// dx_i = dy_i s_i^-beta - 2 alpha beta / size * x_i * Σ_{j: i in window(j)} dy_j x_j s_j^(-beta-1).
public enum LRNGradOp: OpSpec {
    public static let name = "lrn_grad"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static let attributes = lrnAttributes
    /// The forward's work twice.
    public static func flops(_ q: CostQuery) -> Double { 2 * LRNOp.flops(q) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "gradient"); try q.requireFloat(1); try q.requireRank(1, 3...8)
        guard q.input(0) == q.input(1) else { throw ShapeError("gradient \(q.input(0)) must have the input's type \(q.input(1))") }
        return q.input(1)
    }
}

extension OpDef {
    public static let lrn = OpDef(LRNOp.self)
    public static let lrnGrad = OpDef(LRNGradOp.self)
}
