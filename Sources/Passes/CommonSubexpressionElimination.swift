import GraphIR

/// `cse`: merges nodes that compute the same thing: equal op, inputs (after merging) and
/// attributes. Random ops (dropout masks), inputs and parameters are never merged. The first
/// node survives with its location and scope.
///
///     %0 = input() {name="x"} : f32[4]
///     %1 = tanh(%0) : f32[4]
///     %2 = tanh(%0) : f32[4]
///     %3 = add(%1, %2) : f32[4]
/// becomes
///     %0 = input() {name="x"} : f32[4]
///     %1 = tanh(%0) : f32[4]
///     %2 = add(%1, %1) : f32[4]
extension Pass {
    public static let commonSubexpressionElimination = Pass(name: "cse", summary: "merge nodes with equal op, inputs and attributes (not random ops)") { g, context in
        var r = GraphRewriter(g, pass: "cse")
        var seen: [ExpressionKey: Value] = [:]
        seen.reserveCapacity(g.nodes.count)
        for v in g.values {
            var node = g[v]
            node.inputs = try r.remapInputs(of: v)
            if node.isInterface || node.op.isRandom {
                r.emit(node, for: v)
                continue
            }
            let key = ExpressionKey(op: node.op, inputs: node.inputs, attributes: node.attributes, type: node.type)
            if let existing = seen[key] {
                r.forward(v, to: existing)
                context.count("nodes merged")
            } else {
                seen[key] = r.emit(node, for: v)
            }
        }
        return try r.finish()
    }
}

/// What makes two nodes interchangeable.
struct ExpressionKey: Hashable {
    let op: OpDef
    let inputs: [Value]
    let attributes: Attributes
    let type: TensorType
}
