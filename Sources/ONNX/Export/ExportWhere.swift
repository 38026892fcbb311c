import GraphIR

/// `where(cond, x, y)` -> `Where(Cast(cond, to: BOOL), x, y)`: graphc's condition is a number
/// (nonzero holds), ONNX's a bool.
public enum ExportWhere: ONNXExportRule {
    public static let op = OpDef.where
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let holds = w.add("Cast", [n.input(0)], attributes: [ONNXAttribute.int("to", Int(Onnx_TensorProto.DataType.bool.rawValue))])
        w.add("Where", [holds, n.input(1), n.input(2)], output: n.output)
    }
}
