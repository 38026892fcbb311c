import GraphIR
import Runtime

/// A value while a model is imported: a value of the graph being built, or a tensor known at
/// import time (an initializer, a `Constant`, shape arithmetic folded as it is read).
/// `dims` is a static int64 vector, or scalar, whose entries may be symbolic: the result of
/// `Shape` on a tensor with a symbolic batch, and of `Gather`, `Concat`, `Unsqueeze` on it,
/// so `x.view(x.size(0), -1)` as PyTorch exports it folds to one reshape.
public enum ONNXValue {
    case graph(Value)
    case constant(HostTensor)
    case dims([Dim], scalar: Bool)
    /// `ConstantOfShape` of a shape with symbolic sizes: one value repeated over `shape`
    /// (an LSTM's zero initial state for a symbolic batch).
    case filled(HostTensor, shape: [Dim])

    /// The longest int vector folded at import (shapes are a few entries long).
    static let maxFoldedEntries = 1 << 16

    /// The static int64 entries (known or symbolic), when this is a static int vector or scalar.
    var staticDims: (dims: [Dim], scalar: Bool)? {
        switch self {
        case .dims(let d, let s): return (d, s)
        case .constant(let t) where t.dtype == .i64 && t.shape.count <= 1:
            return (t.ints.map { .known(Int(clamping: $0)) }, t.shape.isEmpty)
        default: return nil
        }
    }

    /// A static int vector as a value: a constant when every entry is known.
    static func ints(_ dims: [Dim], scalar: Bool) -> ONNXValue {
        if dims.allSatisfy({ $0.value != nil }) {
            let values = dims.map { Int64($0.value ?? 0) }
            return .constant(HostTensor(shape: scalar ? [] : [values.count], ints: values))
        }
        return .dims(dims, scalar: scalar)
    }
}
