import GraphIR

// Data movement.

/// `reshape(x) {shape}` -> `Reshape(x, shape)`. A symbolic dimension (the batch) that sits at
/// the same position in x becomes 0 (ONNX: copy the input's); one found elsewhere is read from
/// `Shape(x)` at run time.
public enum ExportReshape: ONNXExportRule {
    public static let op = OpDef.reshape
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let target = try n.required(.shape).dims, x = n.inputType(0).shape.dims
        var constant: [Int] = []
        for (i, d) in target.enumerated() {
            switch d {
            case .known(let k): constant.append(k)
            case .symbol: if i < x.count && x[i] == d { constant.append(0) }
            }
        }
        if constant.count == target.count {
            w.add("Reshape", [n.input(0), w.int64s(constant, "shape")], output: n.output)
            return
        }
        // Some symbol moved: build the shape from pieces, each symbol gathered from Shape(x).
        let shape = w.add("Shape", [n.input(0)])
        var pieces: [String] = []
        for d in target {
            switch d {
            case .known(let k): pieces.append(w.int64s([k], "dim"))
            case .symbol(let s):
                guard let j = x.firstIndex(of: d) else { throw ONNXExportProblem("the target's dimension \(s) is not one of the input's \(Shape(x))") }
                pieces.append(w.add("Gather", [shape, w.int64s([j], "index")], attributes: [ONNXAttribute.int("axis", 0)]))
            }
        }
        let full = w.add("Concat", pieces, attributes: [ONNXAttribute.int("axis", 0)])
        w.add("Reshape", [n.input(0), full], output: n.output)
    }
}

/// `reshape_like(x, ref)` -> `Reshape(x, Shape(ref))`.
public enum ExportReshapeLike: ONNXExportRule {
    public static let op = OpDef.reshapeLike
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("Reshape", [n.input(0), w.add("Shape", [n.input(1)])], output: n.output)
    }
}

public enum ExportTranspose: ONNXExportRule {
    public static let op = OpDef.transpose
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("Transpose", [n.input(0)], output: n.output, attributes: [ONNXAttribute.ints("perm", try n.required(.perm))])
    }
}

public enum ExportConcat: ONNXExportRule {
    public static let op = OpDef.concat
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("Concat", n.inputs, output: n.output, attributes: [ONNXAttribute.int("axis", try n.required(.axis))])
    }
}

/// `slice {axis, start, end}` -> `Slice(x, [start], [end], [axis])`.
public enum ExportSlice: ONNXExportRule {
    public static let op = OpDef.slice
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let starts = w.int64s([try n.required(.start)], "starts"), ends = w.int64s([try n.required(.end)], "ends")
        w.add("Slice", [n.input(0), starts, ends, w.int64s([try n.required(.axis)], "axes")], output: n.output)
    }
}

/// `select {axis, index}` -> `Gather` with a scalar index, which drops the axis.
public enum ExportSelect: ONNXExportRule {
    public static let op = OpDef.select
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("Gather", [n.input(0), w.int64Scalar(try n.required(.index))], output: n.output,
              attributes: [ONNXAttribute.int("axis", try n.required(.axis))])
    }
}

/// `stack {axis}` -> each operand unsqueezed at the axis, then `Concat`.
public enum ExportStack: ONNXExportRule {
    public static let op = OpDef.stack
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let raw = try n.required(.axis)
        let axis = raw < 0 ? raw + n.inputType(0).rank + 1 : raw
        let axes = w.int64s([axis], "axes")
        let parts = n.inputs.map { w.add("Unsqueeze", [$0, axes]) }
        w.add("Concat", parts, output: n.output, attributes: [ONNXAttribute.int("axis", axis)])
    }
}

/// `gather(x, indices) {axis}` -> `Gather`.
public enum ExportGather: ONNXExportRule {
    public static let op = OpDef.gather
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("Gather", n.inputs, output: n.output, attributes: [ONNXAttribute.int("axis", try n.required(.axis))])
    }
}

/// `pad(x) {pads, mode?, pad_value?}` -> `Pad(x, pads, value)` (pads in ONNX's order already).
/// Mode "wrap" came with opset 19, after the one graphc writes.
public enum ExportPad: ONNXExportRule {
    public static let op = OpDef.pad
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        if n.attributes[.padMode] == PadMode.wrap.rawValue { throw ONNXExportProblem("pad mode \"wrap\" needs opset 19 (graphc writes opset 17)") }
        let pads = w.int64s(try n.required(.pads), "pads")
        let fill = n.attributes[.padValue] ?? 0
        let value = n.inputType(0).dtype == .i64 ? w.int64Scalar(Int(fill.isFinite ? max(-9e18, min(9e18, fill)) : 0), "value")
            : w.float(Float(fill), "value")
        w.add("Pad", [n.input(0), pads, value], output: n.output,
              attributes: [ONNXAttribute.string("mode", n.attributes[.padMode] ?? "constant")])
    }
}
