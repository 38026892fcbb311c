import GraphIR

/// `attention-scores`: additive attention's scores, the one-output product of
/// relu(enc + dec) with enc [B, N, A] and dec reshaped from [B, A] to [B, 1, A], become one
/// `additive_scores` op. The broadcast sum and its relu, [B, N, A] each, are then neither
/// written nor kept for the backward (which recomputes relu's test from enc and dec), and
/// autodiff differentiates the op by its own rule (`additive_scores_grad`, a sum over the
/// regions, `additive_scores_weight_grad`). It runs before autodiff, on forward and
/// inference graphs; `FusionKind.attentionScores` turns it off.
///
///     %r = reshape(%dec) {shape=shape[B,1,100]} : f32[B,1,100]
///     %s = add(%enc, %r) : f32[B,256,100]
///     %h = relu(%s) : f32[B,256,100]
///     %y = matmul(%h, %w) {transpose_b=true} : f32[B,256,1]
/// becomes
///     %y = additive_scores(%enc, %dec, %w) : f32[B,256,1]
/// The sum and the relu must have no other use; the add may take its operands in either
/// order. Linear: one look at each matmul's producers.
extension Pass {
    public static let attentionScores = Pass(name: "attention-scores", summary: "additive attention's relu(enc + dec) · wᵀ as one additive_scores op") { g, context in
        if context.options.disabledFusions.contains(.attentionScores) { return g }
        return try AttentionScores(g, context).run()
    }
}

struct AttentionScores: UseCountedPass {
    let g: Graph
    let uses: [Int]
    let context: PassContext

    /// For a matmul computing attention scores: (enc, dec, w).
    func match(_ node: Node) -> (Value, Value, Value)? {
        guard node.op == .matmul, node.attributes[.transposeA] != true, node.attributes[.transposeB] == true,
              node.inputs.count == 2 else { return nil }
        let h = node.inputs[0], w = node.inputs[1]
        guard g[h].op == .relu, uses[h.id] == 1 else { return nil }
        let s = g[h].inputs[0]
        guard g[s].op == .add, uses[s.id] == 1, g[s].inputs.count == 2 else { return nil }
        for (ei, ri) in [(0, 1), (1, 0)] {
            let enc = g[s].inputs[ei], r = g[s].inputs[ri]
            guard g[r].op == .reshape, let dec = g[r].inputs.first else { continue }
            let et = g.type(of: enc), dt = g.type(of: dec), rt = g.type(of: r), wt = g.type(of: w)
            guard et.dtype == .f32, dt.dtype == .f32, wt.dtype == .f32, et.rank == 3, dt.rank == 2,
                  et.shape == g[s].type.shape, rt.shape == Shape([dt.shape[0], .known(1), dt.shape[1]]),
                  dt.shape[0] == et.shape[0], dt.shape[1] == et.shape[2],
                  wt.shape == Shape([.known(1), et.shape[2]]) else { continue }
            return (enc, dec, w)
        }
        return nil
    }

    func run() throws -> Graph {
        var plans: [Int: (Value, Value, Value)] = [:]
        for (i, node) in g.nodes.enumerated() { if let m = match(node) { plans[i] = m } }
        guard !plans.isEmpty else { return g }
        context.count(FusionKind.attentionScores.counter, plans.count)
        var r = GraphRewriter(g, pass: "attention-scores")
        for v in g.values {
            guard let (enc, dec, w) = plans[v.id] else { try r.copy(v); continue }
            let node = g[v]
            let b = r.builder(for: node)
            do {
                let y = try b.emit(.additiveScores, [try r.remap(enc, in: v), try r.remap(dec, in: v), try r.remap(w, in: v)])
                guard r.target.type(of: y) == node.type else { throw PassError(pass: "attention-scores", "type \(r.target.type(of: y))") }
                r.forward(v, to: y)
            } catch {
                throw nodeError("attention-scores", g, v, "additive_scores does not replace the product: \(error)")
            }
        }
        return try r.finish()
    }
}
