/// Element types a tensor can hold. Indices (labels, token ids) are i64 like PyTorch's `long`.
public enum DType: String, Hashable, Sendable, CaseIterable {
    case f32
    case i64

    public var byteSize: Int { self == .f32 ? 4 : 8 }
}

/// One dimension of a shape: a number, or a symbol such as the batch size `B` that is bound
/// only when the graph runs.
public enum Dim: Hashable, Sendable, CustomStringConvertible {
    case known(Int)
    case symbol(String)

    public var value: Int? {
        if case .known(let n) = self { return n }
        return nil
    }

    public var description: String {
        switch self {
        case .known(let n): return String(n)
        case .symbol(let s): return s
        }
    }
}

public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dims: [Dim]

    public init(_ dims: [Dim]) { self.dims = dims }
    public init(known: [Int]) { self.dims = known.map { .known($0) } }
    public init(arrayLiteral elements: Int...) { self.dims = elements.map { .known($0) } }

    public var rank: Int { dims.count }
    public var isKnown: Bool { dims.allSatisfy { $0.value != nil } }
    /// The element count when every dimension is a number.
    public var knownCount: Int? {
        var n = 1
        for d in dims { guard let v = d.value else { return nil }; n *= v }
        return n
    }
    public subscript(i: Int) -> Dim { dims[i] }

    /// Resolves symbols with `bindings`; nil when a symbol is unbound.
    public func resolved(_ bindings: [String: Int]) -> [Int]? {
        var out: [Int] = []
        out.reserveCapacity(dims.count)
        for d in dims {
            switch d {
            case .known(let n): out.append(n)
            case .symbol(let s): guard let n = bindings[s] else { return nil }; out.append(n)
            }
        }
        return out
    }

    public var description: String { "[" + dims.map(\.description).joined(separator: ",") + "]" }
}

/// The type of an SSA value: element type and shape, printed `f32[B,16,28,28]`.
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    public var dtype: DType
    public var shape: Shape

    public init(_ dtype: DType, _ shape: Shape) { self.dtype = dtype; self.shape = shape }
    public static func f32(_ shape: Shape) -> TensorType { TensorType(.f32, shape) }
    public static func i64(_ shape: Shape) -> TensorType { TensorType(.i64, shape) }

    public var rank: Int { shape.rank }
    public var description: String { dtype.rawValue + shape.description }
}

/// Where in a source file a node came from; every node keeps the one that made it.
public struct SourceLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file; self.line = line; self.column = column
    }
    public var description: String { "\(file):\(line):\(column)" }
}
