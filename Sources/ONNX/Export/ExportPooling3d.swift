import GraphIR

/// `maxpool3d(x) {kernel, stride, padding, dilation?, ceil_mode?}` -> `MaxPool` over [N, C, D, H, W].
public enum ExportMaxpool3d: ONNXExportRule {
    public static let op = OpDef.maxpool3d
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("MaxPool", [n.input(0)], output: n.output, attributes: try windowAttributes(n, kernel: try n.required(.kernelSize)))
    }
}

/// `avgpool3d(x) {kernel, stride, padding, dilation?, ceil_mode?, count_include_pad?}` ->
/// `AveragePool`. AveragePool takes dilations only since opset 19, after the exported opset 17.
public enum ExportAvgpool3d: ONNXExportRule {
    public static let op = OpDef.avgpool3d
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        if let d = n.attributes[.dilation], d.contains(where: { $0 != 1 }) {
            throw ONNXExportProblem("dilation \(d): ONNX's AveragePool takes dilations from opset 19, graphc exports opset 17")
        }
        var a = try windowAttributes(n, kernel: try n.required(.kernelSize))
        if n.attributes[.countIncludePad] ?? false { a.append(ONNXAttribute.int("count_include_pad", 1)) }
        w.add("AveragePool", [n.input(0)], output: n.output, attributes: a)
    }
}
