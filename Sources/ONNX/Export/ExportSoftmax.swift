import GraphIR

// Since opset 13 Softmax and LogSoftmax normalise along one axis, as graphc's do.

public enum ExportSoftmax: ONNXExportRule {
    public static let op = OpDef.softmax
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("Softmax", [n.input(0)], output: n.output, attributes: [ONNXAttribute.int("axis", try n.required(.axis))])
    }
}

public enum ExportLogSoftmax: ONNXExportRule {
    public static let op = OpDef.logSoftmax
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("LogSoftmax", [n.input(0)], output: n.output, attributes: [ONNXAttribute.int("axis", try n.required(.axis))])
    }
}
