import GraphIR

// Reductions and broadcasts (opset 17: ReduceSum takes its axes as an input, ReduceMean as an
// attribute).

public enum ExportSum: ONNXExportRule {
    public static let op = OpDef.sum
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let axes = w.int64s(try n.required(.axes), "axes")
        w.add("ReduceSum", [n.input(0), axes], output: n.output,
              attributes: [ONNXAttribute.int("keepdims", n.attributes[.keepdims] ?? false ? 1 : 0)])
    }
}

public enum ExportMean: ONNXExportRule {
    public static let op = OpDef.mean
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("ReduceMean", [n.input(0)], output: n.output,
              attributes: [ONNXAttribute.ints("axes", try n.required(.axes)),
                           ONNXAttribute.int("keepdims", n.attributes[.keepdims] ?? false ? 1 : 0)])
    }
}

/// `argmax {axis, select_last?}` -> `ArgMax` without the axis; both take the first of equal
/// maxima, or the last (select_last_index).
public enum ExportArgmax: ONNXExportRule {
    public static let op = OpDef.argmax
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("ArgMax", [n.input(0)], output: n.output,
              attributes: [ONNXAttribute.int("axis", try n.required(.axis)), ONNXAttribute.int("keepdims", 0),
                           ONNXAttribute.int("select_last_index", n.attributes[.selectLast] ?? false ? 1 : 0)])
    }
}

/// `broadcast_like(x, ref)` -> `Expand(x, Shape(ref))`.
public enum ExportBroadcastLike: ONNXExportRule {
    public static let op = OpDef.broadcastLike
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("Expand", [n.input(0), w.add("Shape", [n.input(1)])], output: n.output)
    }
}

/// `reduce_like(x, ref)` -> `ReduceSum` over the axes broadcasting stretched, kept, then
/// reshaped to ref's shape.
public enum ExportReduceLike: ONNXExportRule {
    public static let op = OpDef.reduceLike
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let x = n.inputType(0).shape.dims, target = n.inputType(1).shape.dims
        let lead = x.count - target.count
        let axes = x.indices.filter { $0 < lead || (target[$0 - lead] == .known(1) && x[$0] != .known(1)) }
        guard !axes.isEmpty else { w.add("Reshape", [n.input(0), w.add("Shape", [n.input(1)])], output: n.output); return }
        let summed = w.add("ReduceSum", [n.input(0), w.int64s(axes, "axes")], attributes: [ONNXAttribute.int("keepdims", 1)])
        w.add("Reshape", [summed, w.add("Shape", [n.input(1)])], output: n.output)
    }
}

/// `reduce_max` / `reduce_min {axes, keepdims}` -> `ReduceMax` / `ReduceMin` (axes an attribute until opset 18).
public enum ExportReduceMax: ONNXExportRule {
    public static let op = OpDef.reduceMax
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws { try reduceExtremum("ReduceMax", n, w) }
}
public enum ExportReduceMin: ONNXExportRule {
    public static let op = OpDef.reduceMin
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws { try reduceExtremum("ReduceMin", n, w) }
}
func reduceExtremum(_ onnxOp: String, _ n: ExportedNode, _ w: ONNXGraphWriter) throws {
    w.add(onnxOp, [n.input(0)], output: n.output,
          attributes: [ONNXAttribute.ints("axes", try n.required(.axes)),
                       ONNXAttribute.int("keepdims", n.attributes[.keepdims] ?? false ? 1 : 0)])
}
