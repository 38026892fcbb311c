import GraphIR

/// How one graphc op becomes ONNX nodes: one type per op, listed in `ONNXExportRules.all`
/// (the export's counterpart of `OpRegistry`). A rule reads the graphc node through `ExportedNode`
/// and writes nodes that compute its result under `node.output` into the writer.
public protocol ONNXExportRule {
    /// The graphc op it exports.
    static var op: OpDef { get }
    static func export(_ node: ExportedNode, into w: ONNXGraphWriter) throws
}

/// A graphc node as a rule sees it: its op, attributes and types, with the ONNX names of its
/// operands and of its result.
public struct ExportedNode {
    public let node: Node
    /// ONNX value names of the node's operands, in order.
    public let inputs: [String]
    public let inputTypes: [TensorType]
    /// The ONNX name the result must be written to.
    public let output: String

    public var attributes: Attributes { node.attributes }
    public var type: TensorType { node.type }
    public func input(_ i: Int) -> String { inputs[i] }
    public func inputType(_ i: Int) -> TensorType { inputTypes[i] }

    /// An attribute the verifier guarantees, or an export error naming it.
    public func required<V>(_ key: AttributeKey<V>) throws -> V {
        guard let v = node.attributes[key] else { throw ONNXExportProblem("\(node.op.name) has no attribute '\(key.name)'") }
        return v
    }
}

/// Why a node cannot be exported; the exporter adds the op, the node and its DSL location.
public struct ONNXExportProblem: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A rule that is one ONNX node of the same operands, with fixed attributes.
public protocol ONNXOneNodeRule: ONNXExportRule {
    static var onnxOp: String { get }
}
extension ONNXOneNodeRule {
    public static func export(_ node: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add(onnxOp, node.inputs, output: node.output)
    }
}
