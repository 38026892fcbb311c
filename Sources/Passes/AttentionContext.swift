import GraphIR

/// `attention-context`: attention's context, softmax(scores) reshaped to [B, N, 1] and
/// multiplied (transposed) with the features [B, N, D] (what `contract` makes of
/// `sum(features * alpha, axis 1)`), becomes one `attention_context` op. Each example's softmax
/// and product then run together, on the core that reads its features, one dispatch per
/// decoder step instead of three, and autodiff differentiates the op by its own rule (one
/// `attention_context_grad`: the product with the features and softmax's backward). It runs
/// before autodiff (in the pipeline after `contract`, though it needs not); alpha must have no other use (decoding graphs output it,
/// and keep their softmax). `FusionKind.attentionContext` turns it off.
///
///     %a = softmax(%s) {axis=1} : f32[B,256]
///     %w = reshape(%a) {shape=shape[B,256,1]} : f32[B,256,1]
///     %m = matmul(%w, %f) {transpose_a=true} : f32[B,1,512]
///     %c = reshape(%m) {shape=shape[B,512]} : f32[B,512]
/// becomes
///     %c = attention_context(%s, %f) : f32[B,512]
/// (with a reshape of it to [B,1,512] in place of %m when %m has other users). The sum
/// `contract` turns into that product, `sum(mul(%f, %w)) {axes=[1]}`, becomes the op as well,
/// so the pass does not depend on running after `contract`. Linear: one look at each
/// matmul's and sum's producers.
extension Pass {
    public static let attentionContext = Pass(name: "attention-context", summary: "attention's softmax and context product as one attention_context op") { g, context in
        if context.options.disabledFusions.contains(.attentionContext) { return g }
        return try AttentionContext(g, context).run()
    }
}

struct AttentionContext: UseCountedPass {
    let g: Graph
    let uses: [Int]
    let context: PassContext

    /// For a matmul or sum computing an attention context: (scores, features).
    func match(_ node: Node) -> (Value, Value)? {
        let w: Value, f: Value
        if node.op == .matmul {
            guard node.inputs.count == 2, node.attributes[.transposeA] == true, node.attributes[.transposeB] != true else { return nil }
            (w, f) = (node.inputs[0], node.inputs[1])
        } else if node.op == .sum, let (x, a) = contractionOperands(g, sum: node, uses: uses) {
            (w, f) = (a, x)
        } else {
            return nil
        }
        guard g[w].op == .reshape, uses[w.id] == 1, let alpha = g[w].inputs.first,
              g[alpha].op == .softmax, uses[alpha.id] == 1, let scores = g[alpha].inputs.first else { return nil }
        let st = g.type(of: scores), ft = g.type(of: f), wt = g.type(of: w)
        guard st.dtype == .f32, ft.dtype == .f32, st.rank == 2, ft.rank == 3,
              normalizedAxis(g[alpha].attributes[.axis], rank: 2) == 1,
              st.shape[0] == ft.shape[0], st.shape[1] == ft.shape[1],
              wt.shape == Shape([st.shape[0], st.shape[1], .known(1)]),
              node.type.shape == Shape([ft.shape[0], .known(1), ft.shape[2]]) || node.type.shape == Shape([ft.shape[0], ft.shape[2]])
        else { return nil }
        return (scores, f)
    }

    func run() throws -> Graph {
        var plans: [Int: (Value, Value)] = [:]
        // The products that sums replaced read: left out.
        var skip = Set<Int>()
        for (i, node) in g.nodes.enumerated() {
            guard let m = match(node) else { continue }
            plans[i] = m
            if node.op == .sum { skip.insert(node.inputs[0].id) }
        }
        guard !plans.isEmpty else { return g }
        context.count(FusionKind.attentionContext.counter, plans.count)
        var r = GraphRewriter(g, pass: "attention-context")
        var contexts: [Int: Value] = [:]
        for v in g.values where !skip.contains(v.id) {
            let node = g[v]
            // The reshape of a replaced product to [B, D] is the new op itself.
            if node.op == .reshape, let m = node.inputs.first, let c = contexts[m.id], r.target.type(of: c) == node.type {
                r.forward(v, to: c)
                continue
            }
            guard let (scores, f) = plans[v.id] else { try r.copy(v); continue }
            let b = r.builder(for: node)
            do {
                let c = try b.emit(.attentionContext, [try r.remap(scores, in: v), try r.remap(f, in: v)])
                let m = r.target.type(of: c) == node.type ? c : try b.emit(.reshape, [c], ["shape": .shape(node.type.shape)])
                guard r.target.type(of: m) == node.type else { throw PassError(pass: "attention-context", "type \(r.target.type(of: m))") }
                contexts[v.id] = c
                r.forward(v, to: m)
            } catch {
                throw nodeError("attention-context", g, v, "attention_context does not replace the product: \(error)")
            }
        }
        return try r.finish()
    }

    private func normalizedAxis(_ axis: Int?, rank: Int) -> Int {
        let a = axis ?? -1
        return a < 0 ? a + rank : a
    }
}
