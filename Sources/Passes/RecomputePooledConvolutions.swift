import GraphIR

/// `recompute-pooled-convolutions`: a training step's small convolution (3x3, stride 1, at most
/// `recomputedConvolutionMaxInChannels` input channels) whose output only a 2x2 stride-2 max
/// pooling and its pooled weight gradient read is pooled in its store, and its weight gradient
/// recomputes each window's four values from x, w and b instead of reading them back (as
/// activation checkpointing does): the full-resolution activation, four times the pooled one,
/// is never written. Both new ops compute the windows with one C function, so the gradient
/// routes through the very values the forward pooled. Runs after `pooled-weight-gradients`
/// (which makes the weight gradient read the pooled gradient) and the dead-code elimination
/// after it (the pool gradient that pass leaves dead would count as a third reader), and before
/// another (which drops the convolution). Left out with `FusionKind.recomputedPooledConvolution`. The
/// convolution's sums round in another order than fused_conv2d's forms (the same products).
/// The CNN's first block (%44, its bias gradient, reads the pooled %5 and is unchanged):
///
///     %4 = fused_conv2d(%0, %2, %3) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,16,28,28]
///     %5 = maxpool2d(%4) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,16,14,14]
///     %43 = pooled_conv2d_grad_weight(%39, %4, %0, %2) {stride=[1,1], padding=[1,1], activation="relu"} : f32[16,1,3,3]
/// becomes (%4 then dead)
///     %5 = fused_conv2d_maxpool(%0, %2, %3) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,16,14,14]
///     %43 = recomputed_pooled_conv2d_grad_weight(%39, %0, %2, %3) {stride=[1,1], padding=[1,1], activation="relu"} : f32[16,1,3,3]
/// Linear: one scan to find each convolution's pooling and weight gradient, one to rewrite.
extension Pass {
    public static let recomputePooledConvolutions = Pass(name: "recompute-pooled-convolutions", summary: "pool a small convolution in its store and recompute its windows for the weight gradient") { g, context in
        guard !context.options.disabledFusions.contains(.recomputedPooledConvolution),
              g.nodes.contains(where: { $0.op == .pooledConv2dGradWeight }) else { return g }
        let uses = context.useCounts(g)
        // Each value's 2x2 pooling and pooled weight gradient (the last seen; a value with two of
        // either has more than two uses and is left alone).
        var pools: [Int: Value] = [:], gradients: [Int: Value] = [:]
        for v in g.values {
            let node = g[v]
            if node.op == .maxpool2d, isPairPool(node.attributes) { pools[node.inputs[0].id] = v }
            if node.op == .pooledConv2dGradWeight { gradients[node.inputs[1].id] = v }
        }
        var recomputed = Set<Int>()
        for (conv, pool) in pools {
            if uses[conv] == 2, let gradient = gradients[conv], recomputable(g, Value(conv), pool: pool, gradient: gradient) {
                recomputed.insert(conv)
            }
        }
        guard !recomputed.isEmpty else { return g }
        var r = GraphRewriter(g, pass: "recompute-pooled-convolutions")
        for v in g.values {
            let node = g[v]
            if node.op == .maxpool2d, recomputed.contains(node.inputs[0].id) {
                let conv = g[node.inputs[0]]
                var fused = node
                fused.op = .fusedConv2dMaxpool
                fused.attributes = recomputedAttributes(conv.attributes)
                fused.inputs = try conv.inputs.map { try r.remap($0, in: v) }
                r.emit(fused, for: v)
                context.count(FusionKind.recomputedPooledConvolution.counter)
                continue
            }
            if node.op == .pooledConv2dGradWeight, recomputed.contains(node.inputs[1].id) {
                let conv = g[node.inputs[1]]
                var fused = node
                fused.op = .recomputedPooledConv2dGradWeight
                fused.attributes = recomputedAttributes(conv.attributes)
                fused.inputs = try ([node.inputs[0]] + conv.inputs).map { try r.remap($0, in: v) }
                r.emit(fused, for: v)
                continue
            }
            try r.copy(v)
        }
        return try r.finish()
    }

    /// 2x2 windows, stride 2, no padding or dilation, floor mode.
    private static func isPairPool(_ a: Attributes) -> Bool {
        a[.kernelSize] == [2, 2] && a[.stride] == [2, 2] && (a[.padding] ?? [0]).allSatisfy({ $0 == 0 })
            && (a[.dilation] ?? [1]).allSatisfy({ $0 == 1 }) && !(a[.ceilMode] ?? false)
    }

    /// The new ops' attributes: the convolution's window and activation (not its form, nor
    /// `groups=1`, which they always are).
    private static func recomputedAttributes(_ a: Attributes) -> Attributes {
        var out = a
        out[.convolutionForm] = nil
        out[.groups] = nil
        if out[.activation] == "none" { out[.activation] = nil }
        return out
    }

    /// Whether `conv` is a fused_conv2d (no residual) that the recomputing kernels take, whose
    /// weight gradient `gradient` reads it with its own input, weight, window and activation.
    private static func recomputable(_ g: Graph, _ conv: Value, pool: Value, gradient: Value) -> Bool {
        let c = g[conv], d = g[gradient]
        guard c.op == .fusedConv2d, (2...3).contains(c.inputs.count), (c.attributes[.groups] ?? 1) == 1,
              d.inputs[2] == c.inputs[0], d.inputs[3] == c.inputs[1],
              d.attributes[.padding] == c.attributes[.padding], (d.attributes[.stride] ?? [1, 1]) == (c.attributes[.stride] ?? [1, 1]),
              (d.attributes[.activation] ?? "none") == (c.attributes[.activation] ?? "none") else { return false }
        // The ops' shape rules take the rest (3x3, stride 1, no dilation, few input channels,
        // even sides); both must give the nodes' types.
        let a = recomputedAttributes(c.attributes), types = c.inputs.map { g[$0].type }
        return (try? FusedConv2dMaxpoolOp.shape(ShapeQuery(inputs: types, attributes: a))) == g[pool].type
            && (try? RecomputedPooledConv2dGradWeightOp.shape(ShapeQuery(inputs: [g[d.inputs[0]].type] + types, attributes: a))) == d.type
    }
}
