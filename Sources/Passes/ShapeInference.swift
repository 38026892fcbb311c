import GraphIR

/// `shape-inference`: recomputes every result type from the declared types of inputs and
/// parameters through the ops' shape rules, so editing an input's shape re-types the graph.
///
///     %0 = input() {name="x"} : f32[B,32]        // edited from f32[B,16]
///     %1 = relu(%0) : f32[B,16]
/// becomes
///     %0 = input() {name="x"} : f32[B,32]
///     %1 = relu(%0) : f32[B,32]
///
/// An op that rejects its new inputs is an error naming the op, the input types and the
/// node's source location.
extension Pass {
    public static let shapeInference = Pass(name: "shape-inference", summary: "recompute every result type from the inputs' declared types") { g, _ in
        var r = GraphRewriter(g, pass: "shape-inference")
        for v in g.values {
            var node = g[v]
            node.inputs = try r.remapInputs(of: v)
            let types = node.inputs.map { r.target.type(of: $0) }
            do {
                if node.isInterface { try checkSize(node.type) } else { node.type = try inferType(node.op, types, node.attributes) }
            } catch let e as ShapeError {
                throw nodeError("shape-inference", g, v, "\(e.message) \(describe(types))")
            }
            r.emit(node, for: v)
        }
        return try r.finish()
    }
}
