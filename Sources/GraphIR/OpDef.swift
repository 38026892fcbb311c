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

    // Facts that passes and the runtime read off the declaration (see below).
    /// Every attribute the op reads, typed; the verifier rejects any other.
    static var attributes: [AttributeSpec] { get }
    /// Floating-point operations of one run at concrete shapes.
    static func flops(_ q: CostQuery) -> Double
    /// Inputs the kernel may write its result over (default: none).
    static var inPlaceOperands: InPlaceOperands { get }
    /// An i64 input whose values index another input, checked before the kernel runs (default: none).
    static var indexOperand: IndexOperand? { get }
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

// MARK: - Facts on the declaration

/// What a FLOP count sees: the concrete shapes of one run and the node's attributes.
public struct CostQuery {
    public let inputs: [[Int]]
    public let output: [Int]
    public let attributes: Attributes
    public init(inputs: [[Int]], output: [Int], attributes: Attributes) {
        self.inputs = inputs; self.output = output; self.attributes = attributes
    }

    /// Elements of the result.
    public var outputCount: Double { Double(output.reduce(1, *)) }
    /// Elements of input i (0 when there is no such input).
    public func count(_ i: Int) -> Double { i < inputs.count ? Double(inputs[i].reduce(1, *)) : 0 }
    /// Dimension `axis` of input i (negative counts from the end; 0 when out of range).
    public func dim(_ i: Int, _ axis: Int) -> Double {
        guard i < inputs.count else { return 0 }
        let s = inputs[i], a = axis < 0 ? axis + s.count : axis
        return a >= 0 && a < s.count ? Double(s[a]) : 0
    }
}

/// Which inputs a kernel may overwrite with its result: it reads element k of such an input
/// only to write element k of the result (k in row-major order, so a reshape qualifies). The
/// memory planner still requires the input to have the result's element type and byte size
/// and to be read for the last time.
public enum InPlaceOperands: Sendable, Equatable {
    case none
    case inputs([Int])
    /// Every input (a variadic elementwise op).
    case all

    public func allows(_ input: Int) -> Bool {
        switch self {
        case .none: return false
        case .inputs(let list): return list.contains(input)
        case .all: return true
        }
    }
}

/// An i64 input holding indices into an axis of another input: embedding ids into a table's
/// rows, NLL targets into the classes. The runtime checks them before the node runs, since a
/// kernel cannot report an error and an index outside its range reads or writes out of bounds.
public struct IndexOperand: Sendable, Equatable {
    /// What the indices select, which words the runtime's error uses.
    public enum Meaning: Sendable, Equatable {
        /// Row ids of a lookup table.
        case row
        /// Class labels of log-probabilities.
        case classLabel
        /// Positions along an axis (gather).
        case position
    }
    /// Input position of the indices.
    public let ids: Int
    /// Input position of the tensor they index, and its axis (negative counts from the end).
    public let limit: Int
    public let axis: Int
    public let meaning: Meaning
    /// An attribute naming one index value to skip (`ignore_index`).
    public let ignore: AttributeKey<Int>?
    /// An attribute giving the axis instead of `axis` (gather's `axis`).
    public let axisAttribute: AttributeKey<Int>?

    public init(ids: Int, limit: Int, axis: Int, meaning: Meaning, ignore: AttributeKey<Int>? = nil,
                axisAttribute: AttributeKey<Int>? = nil) {
        self.ids = ids; self.limit = limit; self.axis = axis; self.meaning = meaning; self.ignore = ignore
        self.axisAttribute = axisAttribute
    }
}

extension OpSpec {
    public static var inPlaceOperands: InPlaceOperands { .none }
    public static var indexOperand: IndexOperand? { nil }
}

extension OpDef {
    public var attributes: [AttributeSpec] { spec.attributes }
    public func flops(_ q: CostQuery) -> Double { spec.flops(q) }
    public var inPlaceOperands: InPlaceOperands { spec.inPlaceOperands }
    public var indexOperand: IndexOperand? { spec.indexOperand }
}
