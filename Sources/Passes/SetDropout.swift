import GraphIR

/// `set-dropout`: gives every dropout mask the rate `options.dropout` (`--dropout p`, the
/// recipe's `dropout`), replacing each Dropout layer's own; without that option it leaves
/// the graph as it is. The pipelines run it on the forward graph, before autodiff, so the
/// training graph's masks (shared by forward and backward) get the same rate.
///
///     %3 = dropout_mask(%2) {p=0.5} : f32[B,100]
/// becomes, with dropout 0.2,
///     %3 = dropout_mask(%2) {p=0.2} : f32[B,100]
extension Pass {
    public static let setDropout = Pass(name: "set-dropout", summary: "give every dropout mask the rate of the dropout option") { g, context in
        guard let p = context.options.dropout, g.nodes.contains(where: { $0.op == .dropoutMask }) else { return g }
        var r = GraphRewriter(g, pass: "set-dropout")
        for v in g.values {
            var node = g[v]
            node.inputs = try r.remapInputs(of: v)
            if node.op == .dropoutMask {
                node.attributes["p"] = .float(p)
                context.count("masks set")
            }
            r.emit(node, for: v)
        }
        return try r.finish()
    }
}
