import GraphIR

/// `dce`: removes nodes that neither the outputs nor the loss depend on. Inputs and
/// parameters always stay: they are the graph's interface (feeds, checkpoints).
///
///     %0 = input() {name="x"} : f32[4]
///     %1 = param() {name="w", init="zeros"} : f32[4]
///     %2 = exp(%0) : f32[4]
///     %3 = relu(%2) : f32[4]
///     %4 = mul(%0, %0) : f32[4]
///     output "y" = %4
/// becomes
///     %0 = input() {name="x"} : f32[4]
///     %1 = param() {name="w", init="zeros"} : f32[4]
///     %2 = mul(%0, %0) : f32[4]
///     output "y" = %2
extension Pass {
    public static let deadCodeElimination = Pass(name: "dce", summary: "remove nodes the outputs and loss do not use (inputs and parameters stay)") { g, context in
        let n = g.nodes.count
        var live = [Bool](repeating: false, count: n)
        for o in g.outputs where o.value.id >= 0 && o.value.id < n { live[o.value.id] = true }
        if let l = g.loss, l.id >= 0, l.id < n { live[l.id] = true }
        // Inputs come before their users, so one backward sweep finds everything reachable.
        for i in stride(from: n - 1, through: 0, by: -1) {
            if g.nodes[i].isInterface { live[i] = true }
            guard live[i] else { continue }
            for input in g.nodes[i].inputs where input.id >= 0 && input.id < i { live[input.id] = true }
        }
        var r = GraphRewriter(g, pass: "dce")
        for v in g.values where live[v.id] { try r.copy(v) }
        context.count("nodes removed", n - r.target.nodes.count)
        return try r.finish()
    }
}
