import GraphIR

/// `attention-grad-sums`: the chain of `additive_scores_grad` ops that sums a decoder's steps'
/// gradients of enc (the fusion pass's accumulation: each step's op adds its gradient to the
/// sum of the later steps', operand `acc`) as one `additive_scores_grad_sum` over every
/// step's dy and dec. The chain reads enc [B, N, A] and reads and writes the running sum once
/// per step; the one op reads enc and writes the sum once, holding each row's sums in
/// registers across the steps. It adds the same terms in the same order (the chain's first
/// op first), so the result has the same bits. The steps' dy stay live until the backward's
/// end (a [B, N, 1] each). Runs after `fusion`; `FusionKind.attentionGradSums` turns it off.
///
///     %424 = additive_scores_grad(%422, %11, %368, %15) : f32[B,256,100]
///     %438 = additive_scores_grad(%434, %11, %351, %15, %424) : f32[B,256,100]
///     %450 = additive_scores_grad(%446, %11, %334, %15, %438) : f32[B,256,100]
///     %687 = contract_rows(%450, %0) : f32[100,512]
/// becomes
///     %450 = additive_scores_grad_sum(%11, %15, %422, %368, %434, %351, %446, %334) : f32[B,256,100]
///     %687 = contract_rows(%450, %0) : f32[100,512]
/// A link must be the only use of the one before it and share its enc and w; the chain's
/// first op has no `acc`; at least two steps. Linear: one look at each op's accumulator,
/// then each chain walked once.
extension Pass {
    public static let attentionGradSums = Pass(name: "attention-grad-sums", summary: "a decoder's chain of attention score gradients of enc as one sum over the steps") { g, context in
        if context.options.disabledFusions.contains(.attentionGradSums) { return g }
        guard g.nodes.contains(where: { $0.op == .additiveScoresGrad && $0.inputs.count == 5 }) else { return g }
        return try AttentionGradSums(g, context).run()
    }
}

struct AttentionGradSums: UseCountedPass {
    let g: Graph
    let uses: [Int]
    let context: PassContext

    /// The link before node i in a chain (its `acc`), when i continues one.
    func previous(_ i: Int) -> Int? {
        let node = g.nodes[i]
        guard node.op == .additiveScoresGrad, node.inputs.count == 5 else { return nil }
        let p = node.inputs[4].id, before = g.nodes[p]
        guard before.op == .additiveScoresGrad, uses[p] == 1, before.inputs[1] == node.inputs[1],
              before.inputs[3] == node.inputs[3], before.type == node.type else { return nil }
        return p
    }

    func run() throws -> Graph {
        var previousLink = [Int?](repeating: nil, count: g.nodes.count)
        var continued = [Bool](repeating: false, count: g.nodes.count)
        for i in g.nodes.indices {
            guard let p = previous(i) else { continue }
            previousLink[i] = p
            continued[p] = true
        }
        // Each chain's last op -> its links from the first.
        var chains: [Int: [Int]] = [:]
        for i in g.nodes.indices where previousLink[i] != nil && !continued[i] {
            var links = [i]
            var at = i
            while let p = previousLink[at] { links.append(p); at = p }
            guard g.nodes[at].inputs.count == 4 else { continue }   // the first step has no acc
            chains[i] = links.reversed()
        }
        guard !chains.isEmpty else { return g }
        var r = GraphRewriter(g, pass: "attention-grad-sums")
        for v in g.values {
            guard let links = chains[v.id] else { try r.copy(v); continue }
            var node = g[v]
            var inputs = [try r.remap(node.inputs[1], in: v), try r.remap(node.inputs[3], in: v)]
            for l in links {
                let link = g.nodes[l]
                inputs += [try r.remap(link.inputs[0], in: v), try r.remap(link.inputs[2], in: v)]
            }
            node.op = .additiveScoresGradSum
            node.inputs = inputs
            r.emit(node, for: v)
        }
        context.count(FusionKind.attentionGradSums.counter, chains.count)
        return try r.finish()
    }
}
