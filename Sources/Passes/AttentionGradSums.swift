import GraphIR

/// `attention-grad-sums`: a decoder's sums over its steps of attention-score gradients as one
/// op each. The gradient of enc [B, N, A] (the regions' projections, which every step reads)
/// is a chain of adds of one `additive_scores_grad` per step (or, as the fusion pass leaves
/// it, of such ops each adding into the previous one's sum, operand `acc`); the chain reads
/// enc and reads and writes the running sum once per step. `additive_scores_grad_sum` over
/// every step's dy and dec reads enc and writes the sum once, each row's sums held in
/// registers across the steps. The scoring weight's gradient, a chain of adds of one
/// `additive_scores_weight_grad` per step each reading all of enc, becomes
/// `additive_scores_weight_grad_sum`, which reads each example's enc for all the steps while
/// it is in cache. Both add the same terms in the same order (the chain's first first), so
/// the results have the same bits. The steps' dy stay live until the backward's end (a
/// [B, N, 1] each). Runs before `fusion` (which would fuse the adds);
/// `FusionKind.attentionGradSums` turns it off.
///
///     %424 = additive_scores_grad(%422, %11, %368, %15) : f32[B,256,100]
///     %438 = additive_scores_grad(%434, %11, %351, %15) : f32[B,256,100]
///     %439 = add(%424, %438) : f32[B,256,100]
///     %450 = additive_scores_grad(%446, %11, %334, %15) : f32[B,256,100]
///     %451 = add(%439, %450) : f32[B,256,100]
///     %425 = additive_scores_weight_grad(%422, %11, %368) : f32[1,100]
///     %437 = additive_scores_weight_grad(%434, %11, %351) : f32[1,100]
///     %440 = add(%425, %437) : f32[1,100]
/// becomes
///     %451 = additive_scores_grad_sum(%11, %15, %422, %368, %434, %351, %446, %334) : f32[B,256,100]
///     %440 = additive_scores_weight_grad_sum(%11, %422, %368, %434, %351) : f32[1,100]
/// and the fusion pass's form, `%438 = additive_scores_grad(%434, %11, %351, %15, %424)` and so
/// on, the same way. A link must be the only use of the one before it, and the terms share enc
/// (and w); at least two steps. Linear: one look at each add and each op's accumulator, then
/// each chain walked once.
extension Pass {
    public static let attentionGradSums = Pass(name: "attention-grad-sums", summary: "a decoder's chain of attention score gradients of enc as one sum over the steps") { g, context in
        if context.options.disabledFusions.contains(.attentionGradSums) { return g }
        guard g.nodes.contains(where: { $0.op == .additiveScoresGrad || $0.op == .additiveScoresWeightGrad }) else { return g }
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

    /// What a leaf of an add chain sums: the op, enc and (for the scores' gradient) w.
    struct Leaf: Equatable {
        let op: OpDef, enc: Value, w: Value?
    }

    func leaf(_ v: Value) -> Leaf? {
        let node = g[v]
        guard uses[v.id] == 1 else { return nil }
        if node.op == .additiveScoresGrad, node.inputs.count == 4 { return Leaf(op: node.op, enc: node.inputs[1], w: node.inputs[3]) }
        if node.op == .additiveScoresWeightGrad { return Leaf(op: node.op, enc: node.inputs[1], w: nil) }
        return nil
    }

    /// Chains of adds over such leaves of one kind, by their last add: the leaves, first first.
    /// Each add records the add before it and its own leaf; a chain's leaves are collected once,
    /// from its last add back.
    func addChains() -> [Int: (Leaf, [Int])] {
        var kinds: [Int: Leaf] = [:]
        var before: [Int: Int] = [:]       // an add continuing a chain -> the add it continues
        var terms: [Int: [Int]] = [:]      // an add -> the leaves it adds (two for a chain's first)
        var continued = Set<Int>()
        for (i, node) in g.nodes.enumerated() where node.op == .add && node.inputs.count == 2 {
            let x = node.inputs[0], y = node.inputs[1]
            guard g.type(of: x) == node.type, g.type(of: y) == node.type else { continue }
            if let a = leaf(x), let b = leaf(y), a == b {
                kinds[i] = a
                terms[i] = [x.id, y.id]
            } else {
                for (p, l) in [(x, y), (y, x)] {
                    guard uses[p.id] == 1, let kind = kinds[p.id], let q = leaf(l), q == kind else { continue }
                    kinds[i] = kind
                    terms[i] = [l.id]
                    before[i] = p.id
                    continued.insert(p.id)
                    break
                }
            }
        }
        var sums: [Int: (Leaf, [Int])] = [:]
        for (i, kind) in kinds where !continued.contains(i) {
            var adds = [i]
            while let p = before[adds[adds.count - 1]] { adds.append(p) }
            sums[i] = (kind, adds.reversed().flatMap { terms[$0] ?? [] })
        }
        return sums
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
        let sums = addChains()
        guard !chains.isEmpty || !sums.isEmpty else { return g }
        var r = GraphRewriter(g, pass: "attention-grad-sums")
        for v in g.values {
            if let (kind, leaves) = sums[v.id] {
                var node = g[v]
                var inputs = [try r.remap(kind.enc, in: v)] + (try kind.w.map { [try r.remap($0, in: v)] } ?? [])
                for l in leaves {
                    let term = g.nodes[l]
                    inputs += [try r.remap(term.inputs[0], in: v), try r.remap(term.inputs[2], in: v)]
                }
                node.op = kind.op == .additiveScoresGrad ? .additiveScoresGradSum : .additiveScoresWeightGradSum
                node.inputs = inputs
                r.emit(node, for: v)
                continue
            }
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
        context.count(FusionKind.attentionGradSums.counter, chains.count + sums.count)
        return try r.finish()
    }
}
