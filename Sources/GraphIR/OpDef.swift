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
public typealias KernelFunction = (KernelContext) -> Void

/// One op, declared once: its name, arity, shape rule, gradient rule, fusion class and kernel.
/// Families of ops live in `Ops/*.swift`; `OpRegistry.all` lists them.
public struct OpDef: @unchecked Sendable, Hashable, CustomStringConvertible {
    public let name: String
    public let arity: Arity
    public let fusion: FusionClass
    /// Random or otherwise not a function of its inputs: CSE and constant folding leave it.
    public let isRandom: Bool
    public let shape: ShapeRule
    public let gradient: GradientRule?
    public let kernel: KernelFunction?

    public init(_ name: String, arity: Arity, fusion: FusionClass, isRandom: Bool = false,
                shape: @escaping ShapeRule, gradient: GradientRule? = nil, kernel: KernelFunction? = nil) {
        self.name = name; self.arity = arity; self.fusion = fusion; self.isRandom = isRandom
        self.shape = shape; self.gradient = gradient; self.kernel = kernel
    }

    public var description: String { name }
    public static func == (a: OpDef, b: OpDef) -> Bool { a.name == b.name }
    public func hash(into h: inout Hasher) { h.combine(name) }
}
