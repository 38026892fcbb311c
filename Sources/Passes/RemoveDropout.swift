import GraphIR

/// `remove-dropout`: takes each dropout, `x * dropout_mask(x)`, out of a graph that scores a
/// model: outside training the mask is all ones, so the product is `x` itself, and the
/// evaluation graph need not fill a mask nor multiply by it. Only the evaluation pipeline runs
/// it (the training graph draws its masks); a product whose other operand is not the mask's
/// own input, or of another type than it, stays.
///
///     %3 = dropout_mask(%2) {p=0.3} : f32[B,600]
///     %4 = mul(%2, %3) : f32[B,600]
///     %5 = matmul(%4, %w) : f32[B,120]
/// becomes (%3 is then dead)
///     %5 = matmul(%2, %w) : f32[B,120]
/// Linear: one scan in graph order.
extension Pass {
    public static let removeDropout = Pass(name: "remove-dropout", summary: "drop x * dropout_mask(x) to x for evaluation (the mask is all ones outside training)") { g, context in
        guard g.nodes.contains(where: { $0.op == .dropoutMask }) else { return g }
        var r = GraphRewriter(g, pass: "remove-dropout")
        for v in g.values {
            let node = g[v]
            if node.op == .mul, node.inputs.count == 2 {
                let (a, b) = (node.inputs[0], node.inputs[1])
                func isMask(_ m: Value, of x: Value) -> Bool {
                    g[m].op == .dropoutMask && g[m].inputs.first == x && g.type(of: x) == node.type
                }
                if let x = isMask(b, of: a) ? a : isMask(a, of: b) ? b : nil {
                    r.forward(v, to: try r.remap(x, in: v))
                    context.count("dropouts removed")
                    continue
                }
            }
            try r.copy(v)
        }
        return try r.finish()
    }
}
