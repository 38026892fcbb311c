import GraphIR

/// What is wrong with an ONNX file, named by the file and, when a node is at fault, by the
/// node's name and op type, as `resnet50.onnx: node "res2a_branch2a" (Conv): ...`.
public struct ONNXError: Error, CustomStringConvertible, Equatable {
    public var file: String
    /// The node at fault (nil: the file, a tensor or the graph's interface).
    public var node: String?
    public var opType: String?
    public var message: String

    public init(file: String, node: String? = nil, opType: String? = nil, _ message: String) {
        self.file = file; self.node = node; self.opType = opType; self.message = message
    }

    public var description: String {
        guard let node else { return "\(file): \(message)" }
        return "\(ONNXNodeLocation.label(file: file, node: node, opType: opType ?? "?")): \(message)"
    }
}

/// How a graph node made from an ONNX node is located: the "file" of its `SourceLocation` is
/// `model.onnx: node "name" (OpType)` with line and column 0 (an ONNX file has no lines), so
/// `--dump-ir` shows `loc("model.onnx: node \"conv1\" (Conv)":0:0)` and a diagnostic about
/// the node names it the way an import error does.
public enum ONNXNodeLocation {
    public static func label(file: String, node: String, opType: String) -> String {
        "\(file): node \"\(node)\" (\(opType))"
    }

    public static func make(file: String, node: String, opType: String) -> SourceLocation {
        SourceLocation(file: label(file: file, node: node, opType: opType), line: 0, column: 0)
    }
}
