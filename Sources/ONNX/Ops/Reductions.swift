import GraphIR

// Reductions over axes.

extension ONNXOps {
    static let reductions: [ONNXOpConverter] = [
        reduce("ReduceMean", .mean, axesInputFrom: 18), reduce("ReduceSum", .sum, axesInputFrom: 13),
        reduce("ReduceMax", .reduceMax, axesInputFrom: 18), reduce("ReduceMin", .reduceMin, axesInputFrom: 18),
        argMax,
    ]

    /// ArgMax: graphc's `argmax` drops the axis and picks the first of equal maxima (the last
    /// with `select_last_index`); `keepdims` (default 1) puts the axis back with size 1.
    static let argMax = ONNXOpConverter("ArgMax") { c in
        let x = try c.tensor(0)
        let axis = try c.axis(c.int("axis", default: 0), rank: c.type(x).rank)
        var attributes: Attributes = ["axis": .int(axis)]
        if c.int("select_last_index", default: 0) != 0 { attributes["select_last"] = .bool(true) }
        let y = try c.emit(.argmax, [x], attributes)
        guard c.int("keepdims", default: 1) != 0 else { return [.graph(y)] }
        var dims = c.type(y).shape.dims
        dims.insert(.known(1), at: axis)
        return [.graph(try c.emit(.reshape, [y], ["shape": .shape(Shape(dims))]))]
    }

    /// `keepdims` (default 1) and the axes: an attribute before `axesInputFrom`, then an optional
    /// input; no axes reduce every axis (unless `noop_with_empty_axes`).
    static func reduce(_ type: String, _ op: OpDef, axesInputFrom version: Int) -> ONNXOpConverter {
        ONNXOpConverter(type) { c in
            let x = try c.tensor(0)
            let rank = c.type(x).rank
            let raw: [Int]? = c.opset >= version ? (c.has(1) ? try c.staticInts(1, "axes") : nil) : c.ints("axes")
            if raw?.isEmpty ?? true, c.int("noop_with_empty_axes", default: 0) != 0 { return [.graph(x)] }
            let listed = raw.flatMap { $0.isEmpty ? nil : $0 } ?? Array(0..<rank)
            let axes = try listed.map { try c.axis($0, rank: rank) }
            let keep = c.int("keepdims", default: 1) != 0
            return [.graph(try c.emit(op, [x], ["axes": .ints(axes.sorted()), "keepdims": .bool(keep)]))]
        }
    }
}
