import GraphIR

/// graphc pads a window by the same amount on both sides of each axis; ONNX lists the
/// beginnings, then the ends.
func onnxPads(_ padding: [Int]) -> [Int] { padding + padding }

/// `conv2d(x, w[, b]) {stride, padding}` -> `Conv`.
public enum ExportConv2d: ONNXExportRule {
    public static let op = OpDef.conv2d
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let weight = n.inputType(1).shape.dims
        guard let kh = weight[2].value, let kw = weight[3].value else { throw ONNXExportProblem("the kernel size must be known") }
        w.add("Conv", n.inputs, output: n.output, attributes: [
            ONNXAttribute.ints("kernel_shape", [kh, kw]),
            ONNXAttribute.ints("strides", try n.required(.stride)),
            ONNXAttribute.ints("pads", onnxPads(try n.required(.padding))),
        ])
    }
}

/// `maxpool2d(x) {kernel, stride, padding}` -> `MaxPool` (padding never wins a maximum in
/// either; both round the output size down).
public enum ExportMaxpool2d: ONNXExportRule {
    public static let op = OpDef.maxpool2d
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("MaxPool", [n.input(0)], output: n.output, attributes: [
            ONNXAttribute.ints("kernel_shape", try n.required(.kernelSize)),
            ONNXAttribute.ints("strides", try n.required(.stride)),
            ONNXAttribute.ints("pads", onnxPads(try n.required(.padding))),
        ])
    }
}

/// `batch_norm(x, weight, bias, mean, var) {eps}` (inference form) -> `BatchNormalization`,
/// whose inputs come in the same order.
public enum ExportBatchNorm: ONNXExportRule {
    public static let op = OpDef.batchNorm
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("BatchNormalization", n.inputs, output: n.output,
              attributes: [ONNXAttribute.float("epsilon", n.attributes[.eps] ?? 1e-5)])
    }
}
