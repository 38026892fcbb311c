import GraphIR

/// `pooled-weight-gradients`: the weight gradient of a 3x3 convolution (stride 1, no dilation,
/// no groups) whose output was max-pooled by 2x2 windows with stride 2, taken from the pooled
/// gradient when nothing else reads the full-resolution one:
/// `conv2d_grad_weight(maxpool2d_grad(dp, y), x, w)` -> `pooled_conv2d_grad_weight(dp, y, x, w)`.
/// Each window's gradient goes to one position (its maximum), so the weight gradient reads the
/// window and its gradient instead of a tensor four times the pooled size, three quarters
/// zeros, that one op writes and the next reads back. Runs after `fusion` (which folds the
/// relu into the pool gradient, kept as the op's `activation`) and `pool-gradient-sums` (which
/// takes the bias sum off the pool gradient); left out with `FusionKind.pooledWeightGradient`.
/// The sums round in another order than conv2d_grad_weight's (the same products, grouped
/// otherwise). The CNN's first block:
///
///     %42 = maxpool2d_grad(%39, %4) {kernel=[2,2], stride=[2,2], padding=[0,0], activation="relu"} : f32[B,16,28,28]
///     %43 = conv2d_grad_weight(%42, %0, %2) {stride=[1,1], padding=[1,1]} : f32[16,1,3,3]
/// becomes
///     %43 = pooled_conv2d_grad_weight(%39, %4, %0, %2) {stride=[1,1], padding=[1,1], activation="relu"} : f32[16,1,3,3]
/// Linear: one scan in graph order.
extension Pass {
    public static let pooledWeightGradients = Pass(name: "pooled-weight-gradients", summary: "a 3x3 convolution's weight gradient taken from its 2x2 max pooling's gradient") { g, context in
        guard !context.options.disabledFusions.contains(.pooledWeightGradient),
              g.nodes.contains(where: { $0.op == .maxpool2dGrad }) else { return g }
        let uses = context.useCounts(g)
        var r = GraphRewriter(g, pass: "pooled-weight-gradients")
        for v in g.values {
            let node = g[v]
            if node.op == .conv2dGradWeight, let replacement = try pooledWeightGradient(g, v, uses: uses, r: r) {
                r.emit(replacement, for: v)
                context.count(FusionKind.pooledWeightGradient.counter)
                continue
            }
            try r.copy(v)
        }
        return try r.finish()
    }

    /// The pooled form of the weight gradient `v`, or nil when its gradient operand is not a
    /// 2x2 stride-2 max-pool gradient used only there, or the convolution is not one the
    /// pooled kernel takes.
    private static func pooledWeightGradient(_ g: Graph, _ v: Value, uses: [Int], r: GraphRewriter) throws -> Node? {
        let node = g[v], dy = node.inputs[0], gradient = g[dy]
        let a = gradient.attributes, c = node.attributes
        guard gradient.op == .maxpool2dGrad, uses[dy.id] == 1,
              a[.kernelSize] == [2, 2], a[.stride] == [2, 2], (a[.padding] ?? [0]).allSatisfy({ $0 == 0 }),
              (a[.dilation] ?? [1]).allSatisfy({ $0 == 1 }), !(a[.ceilMode] ?? false),
              c[.stride] == [1, 1], (c[.dilation] ?? [1]).allSatisfy({ $0 == 1 }), (c[.groups] ?? 1) == 1,
              let w = g[node.inputs[2]].type.shape.dims.count == 4 ? g[node.inputs[2]].type.shape : nil,
              w[2] == .known(3), w[3] == .known(3) else { return nil }
        let dp = gradient.inputs[0], y = gradient.inputs[1]
        // The convolution's output must be what was pooled, whole: even sides.
        guard g[y].type.shape == g[dy].type.shape, case .known(let h) = g[y].type.shape[2],
              case .known(let width) = g[y].type.shape[3], h % 2 == 0, width % 2 == 0 else { return nil }
        var fused = node
        fused.op = .pooledConv2dGradWeight
        // One group (checked above) is the op's only kind: `groups=1` is not its attribute.
        fused.attributes[.groups] = nil
        fused.inputs = [try r.remap(dp, in: v), try r.remap(y, in: v), try r.remap(node.inputs[1], in: v),
                        try r.remap(node.inputs[2], in: v)]
        if let activation = a[.activation], activation != "none" { fused.attributes[.activation] = activation }
        // Operands the op's shape rule refuses (a hand-written gradient of another shape) stay unfused.
        let types = [dp, y, node.inputs[1], node.inputs[2]].map { g[$0].type }
        guard (try? PooledConv2dGradWeightOp.shape(ShapeQuery(inputs: types, attributes: fused.attributes))) == node.type else { return nil }
        return fused
    }
}
