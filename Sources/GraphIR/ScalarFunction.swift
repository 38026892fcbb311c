// An elementwise op's scalar function, declared once with the op: the CPU kernels, the
// fused_elementwise interpreter and constant folding all evaluate this same function.

/// The compile-time scalars an elementwise function takes, in the order of the op's
/// `constantNames` (scale's factor; clamp's min and max). Unused slots are 0.
public struct ScalarConstants: Sendable, Equatable {
    public var first: Float
    public var second: Float

    @inlinable public init(_ first: Float = 0, _ second: Float = 0) { self.first = first; self.second = second }

    /// The first `count` values.
    public func prefix(_ count: Int) -> [Float] { Array([first, second].prefix(count)) }
}

/// An op computed element by element from one or two f32 operands and at most two float
/// attributes. Unary ops declare `apply(_:_:)` (`UnaryElementwiseOp`), binary ones
/// `apply(_:_:)` on two operands (`BinaryElementwiseOp`); `scalar` is the one form every
/// caller uses.
public protocol ElementwiseOp: OpSpec {
    /// The op's instruction code in a `fused_elementwise` program. Saved `.gir` files hold
    /// it, so it never changes once given; the registry checks codes are distinct.
    static var opcode: Int { get }
    /// Float attributes the function reads, in order (at most two).
    static var constantNames: [String] { get }
    /// The exact f32 result of every kernel of the op for operands `a` (and `b`, ignored
    /// by unary ops) and constants `k`.
    static func scalar(_ a: Float, _ b: Float, _ k: ScalarConstants) -> Float
}

extension ElementwiseOp {
    public static var constantNames: [String] { [] }

    /// The op's constants from a node's attributes (nil when one is missing).
    public static func constants(from attributes: Attributes) -> ScalarConstants? {
        var values: [Float] = []
        for name in constantNames {
            guard let v = attributes.float(name) else { return nil }
            values.append(Float(v))
        }
        return ScalarConstants(values.first ?? 0, values.dropFirst().first ?? 0)
    }
}

/// The registry's handle on an op's scalar function (`OpDef.scalarFunction`).
public struct ScalarFunction: @unchecked Sendable {
    public let opcode: Int
    /// 1 or 2.
    public let operandCount: Int
    public let constantNames: [String]
    public let spec: ElementwiseOp.Type

    public init(_ spec: ElementwiseOp.Type) {
        guard case .exactly(let n) = spec.arity, n == 1 || n == 2, spec.constantNames.count <= 2 else {
            preconditionFailure("elementwise op \(spec.name) must take one or two operands and at most two constants")
        }
        self.spec = spec
        opcode = spec.opcode; operandCount = n; constantNames = spec.constantNames
    }

    public func constants(from attributes: Attributes) -> ScalarConstants? { spec.constants(from: attributes) }

    /// The function on `operands` (one or two values).
    public func callAsFunction(_ operands: [Float], _ k: ScalarConstants) -> Float {
        spec.scalar(operands[0], operands.count > 1 ? operands[1] : 0, k)
    }

    /// Whether the op also computes on two i64 operands (`IntegerElementwiseOp`).
    public var takesIntegers: Bool { spec is IntegerElementwiseOp.Type }

    /// The function on two i64 operands, exactly as the kernel computes it (nil: the op is f32 only).
    public func integers(_ a: Int64, _ b: Int64) -> Int64? {
        (spec as? IntegerElementwiseOp.Type)?.apply(integers: a, b)
    }
}

extension OpRegistry {
    /// Elementwise ops by their program opcode.
    public static let byOpcode: [Int: OpDef] = {
        var d: [Int: OpDef] = [:]
        for op in all {
            guard let f = op.scalarFunction else { continue }
            precondition(d[f.opcode] == nil, "ops \(d[f.opcode]!.name) and \(op.name) share opcode \(f.opcode)")
            d[f.opcode] = op
        }
        return d
    }()
}
