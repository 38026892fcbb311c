import GraphIR

/// `reduced-inputs`: an f32 input read only through means (or only through sums) over the same
/// axes, none of them the batch axis 0, is taken already reduced. The input's type becomes the
/// reduced one, and its `fed`, `reduce`, `axes` (and `keepdims`) attributes (`FeedReduction`)
/// keep what the caller feeds: the executor reduces a fed tensor as it takes it, and a
/// `FeedWriter` that can reduces while it writes (a captioning batch's features averaged over
/// the regions while their rows are gathered). The full-size input then has no buffer in the
/// memory plan, and the reduction no node. The vanilla caption decoder reads its features only
/// through their mean over the regions:
///
///     %0 = input() {name="features"} : f32[B,256,512]
///     %7 = mean(%0) {axes=[1]} : f32[B,512]
///     %8 = matmul(%7, %2) : f32[B,256]
/// becomes
///     %0 = input() {name="features", fed=shape[B,256,512], reduce="mean", axes=[1]} : f32[B,512]
///     %7 = matmul(%0, %2) : f32[B,256]
///
/// The executor reduces with the reduction kernel's own loops, so the values are the same
/// bits the mean node gave. An input that is also an output, read by anything else, or
/// reduced over axis 0 stays as it is. `FusionKind.reducedInputs` turns it off. Linear: one
/// look at each input's users.
extension Pass {
    public static let reducedInputs = Pass(name: "reduced-inputs", summary: "inputs read only through a mean or sum over non-batch axes taken already reduced") { g, context in
        if context.options.disabledFusions.contains(.reducedInputs) { return g }
        let users = context.users(g)
        var reductions: [Int: FeedReduction] = [:]
        let outputs = Set(g.outputs.map(\.value.id) + (g.loss.map { [$0.id] } ?? []))
        for v in g.inputs where !outputs.contains(v.id) {
            if let r = try reduction(of: v, in: g, users: users[v.id]) { reductions[v.id] = r }
        }
        guard !reductions.isEmpty else { return g }
        var r = GraphRewriter(g, pass: "reduced-inputs")
        for v in g.values {
            let node = g[v]
            if let reduction = reductions[v.id] {
                var taken = node
                taken.type = try reduction.reducedType()
                for (key, value) in reduction.attributes { taken.attributes[key] = value }
                r.emit(taken, for: v)
                context.count(FusionKind.reducedInputs.counter)
            } else if let x = node.inputs.first, reductions[x.id] != nil {
                r.forward(v, to: try r.remap(x, in: v))
            } else {
                try r.copy(v)
            }
        }
        return try r.finish()
    }

    /// How input `v` can be taken reduced: every user (at least one) the same mean or sum of
    /// it over the same non-batch axes. Nil otherwise.
    private static func reduction(of v: Value, in g: Graph, users: [Int]) throws -> FeedReduction? {
        let input = g[v]
        guard input.type.dtype == .f32, try FeedReduction.of(input) == nil, let first = users.first else { return nil }
        let rank = input.type.rank
        func key(_ u: Int) -> (op: OpDef, axes: [Int], keepdims: Bool)? {
            let n = g.nodes[u]
            guard n.op == .mean || n.op == .sum, n.inputs == [v], let axes = n.attributes[.axes] else { return nil }
            let normalized = axes.map { $0 < 0 ? $0 + rank : $0 }.sorted()
            guard !normalized.isEmpty, normalized.allSatisfy({ $0 >= 1 && $0 < rank }), Set(normalized).count == normalized.count else { return nil }
            return (n.op, normalized, n.attributes[.keepdims] ?? false)
        }
        guard let k = key(first) else { return nil }
        for u in users.dropFirst() {
            guard let other = key(u), other.op == k.op, other.axes == k.axes, other.keepdims == k.keepdims else { return nil }
        }
        return FeedReduction(fed: input.type, mean: k.op == .mean, axes: k.axes, keepdims: k.keepdims)
    }
}
