import GraphIR
import Runtime

// Ops whose results are known at import: they are computed here and never reach the graph.

extension ONNXOps {
    static let shapes: [ONNXOpConverter] = [shape, constant, constantOfShape, cast]

    /// The input's shape (from opset 15, the part from `start` to `end`), symbolic sizes kept.
    static let shape = ONNXOpConverter("Shape") { c in
        let dims = try c.inputType(0).shape.dims
        let n = dims.count
        func clampIndex(_ v: Int) -> Int { max(0, min(n, v < 0 ? v + n : v)) }
        let start = clampIndex(c.int("start", default: 0)), end = clampIndex(c.int("end", default: n))
        return [.ints(Array(dims[start..<max(start, end)]), scalar: false)]
    }

    static let constant = ONNXOpConverter("Constant") { c in
        if let t = try c.tensorAttribute("value") { return [.constant(t)] }
        if let f = c.attribute("value_float") { return [.constant(HostTensor(scalar: f.f))] }
        if let f = c.floats("value_floats") { return [.constant(HostTensor(shape: [f.count], floats: f))] }
        if let i = c.attribute("value_int") { return [.constant(HostTensor(shape: [], ints: [i.i]))] }
        if let i = c.attribute("value_ints") { return [.constant(HostTensor(shape: [i.ints.count], ints: i.ints))] }
        throw c.fail("only value, value_float(s) and value_int(s) are supported (sparse and string constants are not)")
    }

    /// A tensor of a known shape filled with `value` (default float 0).
    static let constantOfShape = ONNXOpConverter("ConstantOfShape") { c in
        let fill = try c.tensorAttribute("value") ?? HostTensor(shape: [1], floats: [0])
        guard fill.count == 1 else { throw c.fail("value must hold one element") }
        let dims = try c.staticDims(0, "the shape").dims
        guard dims.allSatisfy({ $0.value != nil }) else { return [.filled(fill, shape: dims)] }
        let shape = dims.map { $0.value ?? 0 }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw c.fail("shape \(shape) has a negative size") }
        guard let bytes = MemoryBudget.bytes(elements: shape, byteSize: 8) else { throw c.fail("shape \(shape) is too large") }
        try c.importer.account(bytes, for: "the constant of shape \(shape)", context: c)
        let n = shape.reduce(1, *)
        if fill.dtype == .i64 { return [.constant(HostTensor(shape: shape, ints: Array(repeating: fill.ints[0], count: n)))] }
        return [.constant(HostTensor(shape: shape, floats: Array(repeating: fill.floats[0], count: n)))]
    }

    /// Cast between the types graphc holds: f32 stays f32, ints stay i64; known tensors convert
    /// here, others through graphc's `cast` (both truncate floats toward zero, NaN as 0, saturating).
    static let cast = ONNXOpConverter("Cast") { c in
        guard let to = c.int("to"), let target = ONNXTensors.dtype(onnx: Int32(clamping: to)) else {
            throw c.fail("cast to \(ONNXTensors.typeName(Int32(clamping: c.int("to") ?? 0))) is not supported")
        }
        let v = try c.value(0)
        let source = try c.inputType(0).dtype
        if source == target { return [v] }
        guard case .constant(let t) = v else {
            return [.graph(try c.emit(.cast, [try c.tensor(0)], ["to": .string(target.rawValue)]))]
        }
        return [.constant(target == .f32 ? HostTensor(shape: t.shape, floats: t.floats) : HostTensor(shape: t.shape, ints: t.ints))]
    }
}
