import GraphIR
import Runtime

/// How one ONNX operator becomes graphc ops: its op type, the opset versions it handles and
/// the conversion, which reads its attributes with their ONNX defaults and throws a located
/// error (`ctx.fail`) for what it does not support. Each converter is declared once in
/// `Sources/ONNX/Ops/` and listed in `ONNXOps.all`.
public struct ONNXOpConverter: Sendable {
    public let opType: String
    /// The versions of the operator (its `since_version`s in the default domain) this converter reads.
    public let opsets: ClosedRange<Int>
    let convert: @Sendable (ONNXNodeContext) throws -> [ONNXValue]

    public init(_ opType: String, opsets: ClosedRange<Int> = 1...ONNXModel.maxOpset,
                convert: @escaping @Sendable (ONNXNodeContext) throws -> [ONNXValue]) {
        self.opType = opType; self.opsets = opsets; self.convert = convert
    }
}

/// Every ONNX operator graphc imports.
public enum ONNXOps {
    public static let all: [ONNXOpConverter] =
        ONNXOps.elementwise + ONNXOps.contractions + ONNXOps.windows + ONNXOps.movement + ONNXOps.shapes
        + ONNXOps.normalization + ONNXOps.reductions + ONNXOps.recurrent
        + ONNXOps.broadcasting

    public static let byType: [String: ONNXOpConverter] = {
        var d: [String: ONNXOpConverter] = [:]
        for c in all {
            precondition(d[c.opType] == nil, "ONNX op \(c.opType) is declared twice")
            d[c.opType] = c
        }
        return d
    }()
}
