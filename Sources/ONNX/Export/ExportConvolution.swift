import GraphIR

/// graphc's window padding, one value per axis (both sides alike, [h, w]) or the beginnings
/// then the ends ([top, left, bottom, right]), as ONNX's `pads`: the beginnings, then the ends.
func onnxPads(_ padding: [Int], axes: Int = 2) -> [Int] { padding.count == axes ? padding + padding : padding }

/// The window attributes graphc's convolutions and pools share, as ONNX names them.
func windowAttributes(_ n: ExportedNode, kernel: [Int]) throws -> [Onnx_AttributeProto] {
    var a = [ONNXAttribute.ints("kernel_shape", kernel), ONNXAttribute.ints("strides", try n.required(.stride)),
             ONNXAttribute.ints("pads", onnxPads(try n.required(.padding), axes: kernel.count))]
    if let d = n.attributes[.dilation] { a.append(ONNXAttribute.ints("dilations", d)) }
    if let g = n.attributes[.groups] { a.append(ONNXAttribute.int("group", g)) }
    if n.attributes[.ceilMode] ?? false { a.append(ONNXAttribute.int("ceil_mode", 1)) }
    return a
}

/// The [kh, kw] of a weight [O, C, kh, kw].
func kernelSize(_ n: ExportedNode) throws -> [Int] {
    let w = n.inputType(1).shape.dims
    guard w.count == 4, let kh = w[2].value, let kw = w[3].value else { throw ONNXExportProblem("the kernel size must be known") }
    return [kh, kw]
}

/// `conv2d(x, w[, b]) {stride, padding, dilation?, groups?}` -> `Conv`.
public enum ExportConv2d: ONNXExportRule {
    public static let op = OpDef.conv2d
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("Conv", n.inputs, output: n.output, attributes: try windowAttributes(n, kernel: try kernelSize(n)))
    }
}

/// `conv_transpose2d(x, w[, b]) {..., output_padding?}` -> `ConvTranspose`.
public enum ExportConvTranspose2d: ONNXExportRule {
    public static let op = OpDef.convTranspose2d
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        var a = try windowAttributes(n, kernel: try kernelSize(n))
        if let p = n.attributes[.outputPadding] { a.append(ONNXAttribute.ints("output_padding", p)) }
        w.add("ConvTranspose", n.inputs, output: n.output, attributes: a)
    }
}

/// `maxpool2d(x) {kernel, stride, padding, ceil_mode?, dilation?}` -> `MaxPool` (padding never
/// wins a maximum in either).
public enum ExportMaxpool2d: ONNXExportRule {
    public static let op = OpDef.maxpool2d
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("MaxPool", [n.input(0)], output: n.output, attributes: try windowAttributes(n, kernel: try n.required(.kernelSize)))
    }
}

/// `avgpool2d(x) {kernel, stride, padding, ceil_mode?, count_include_pad?}` -> `AveragePool`.
public enum ExportAvgpool2d: ONNXExportRule {
    public static let op = OpDef.avgpool2d
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        var a = try windowAttributes(n, kernel: try n.required(.kernelSize))
        if n.attributes[.countIncludePad] ?? false { a.append(ONNXAttribute.int("count_include_pad", 1)) }
        w.add("AveragePool", [n.input(0)], output: n.output, attributes: a)
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

/// `lrn(x) {size, alpha?, beta?, bias?}` -> `LRN` (the same constants and defaults).
public enum ExportLRN: ONNXExportRule {
    public static let op = OpDef.lrn
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        var a = [ONNXAttribute.int("size", try n.required(.size))]
        if let v = n.attributes[.alpha] { a.append(ONNXAttribute.float("alpha", v)) }
        if let v = n.attributes[.beta] { a.append(ONNXAttribute.float("beta", v)) }
        if let v = n.attributes[.lrnBias] { a.append(ONNXAttribute.float("bias", v)) }
        w.add("LRN", [n.input(0)], output: n.output, attributes: a)
    }
}
