/// How the fusion pass may merge an op with its neighbours (TVM's TOpPattern, in spirit).
public enum FusionClass: String, Sendable {
    /// Inputs, parameters, constants, random masks: no computation on other values.
    case source
    /// Same-shape (or broadcasting) element-by-element maps: fuse into one loop.
    case elementwise
    /// Pure data movement: reshape, transpose, slice, concat.
    case injective
    /// Reductions over axes: may end a fused chain.
    case reduction
    /// Matmul and convolution: may absorb a bias add and an activation as an epilogue.
    case contraction
    /// Everything else: a kernel of its own.
    case opaque
}

/// What a shape rule sees: the input types and the op's attributes.
public struct ShapeQuery {
    public let inputs: [TensorType]
    public let attributes: Attributes
    public init(inputs: [TensorType], attributes: Attributes) { self.inputs = inputs; self.attributes = attributes }
}

/// A shape rule's complaint. The builder adds the op name and input types; the frontend adds
/// the DSL location.
public struct ShapeError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Number of inputs an op takes.
public enum Arity: Sendable {
    case exactly(Int)
    case between(Int, Int)
    case atLeast(Int)

    public func accepts(_ n: Int) -> Bool {
        switch self {
        case .exactly(let k): return n == k
        case .between(let a, let b): return n >= a && n <= b
        case .atLeast(let k): return n >= k
        }
    }
}

public typealias ShapeRule = (ShapeQuery) throws -> TensorType
/// Given the gradient of a node's result, emit the gradient of each input (nil: none flows).
public typealias GradientRule = (GradientContext) throws -> [Value?]

/// An op's declaration. Each op is one type in `Ops/*.swift`; its gradient rule
/// (`DifferentiableOp`) is an extension of that same type in the same file, so everything
/// about an op sits together. Its CPU kernel is in the backend, in the file of the same name
/// under `Runtime/Kernels` (`KernelOp`, registered in `CPUKernels`).
public protocol OpSpec {
    static var name: String { get }
    static var arity: Arity { get }
    static var fusion: FusionClass { get }
    /// Random or otherwise not a function of its inputs: CSE and constant folding leave it.
    static var isRandom: Bool { get }
    static func shape(_ q: ShapeQuery) throws -> TensorType
}

extension OpSpec {
    public static var isRandom: Bool { false }
}

public protocol DifferentiableOp: OpSpec {
    static func gradient(_ c: GradientContext) throws -> [Value?]
}

/// The registry's handle on an op: its spec with the optional parts resolved once.
public struct OpDef: @unchecked Sendable, Hashable, CustomStringConvertible {
    public let spec: OpSpec.Type
    public let name: String
    public let arity: Arity
    public let fusion: FusionClass
    public let isRandom: Bool
    public let shape: ShapeRule
    public let gradient: GradientRule?
    /// Elementwise ops' scalar function (`ElementwiseOp`).
    public let scalarFunction: ScalarFunction?

    public init(_ spec: OpSpec.Type) {
        self.spec = spec
        name = spec.name; arity = spec.arity; fusion = spec.fusion; isRandom = spec.isRandom
        shape = spec.shape
        gradient = (spec as? DifferentiableOp.Type).map { d in { try d.gradient($0) } }
        scalarFunction = (spec as? ElementwiseOp.Type).map(ScalarFunction.init)
    }

    public var description: String { name }
    public static func == (a: OpDef, b: OpDef) -> Bool { a.name == b.name }
    public func hash(into h: inout Hasher) { h.combine(name) }
}
