import GraphIR

/// `embedding(ids, weight)` -> `Gather(weight, ids)` along the table's rows.
public enum ExportEmbedding: ONNXExportRule {
    public static let op = OpDef.embedding
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("Gather", [n.input(1), n.input(0)], output: n.output, attributes: [ONNXAttribute.int("axis", 0)])
    }
}
