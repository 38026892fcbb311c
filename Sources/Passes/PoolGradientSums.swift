import GraphIR

/// `pool-gradient-sums`: a sum over the spatial axes of a max-pool gradient whose windows tile
/// the image (kernel = stride, no padding, no dilation, floor mode) — a convolution's bias
/// gradient — is summed from the pooled gradient instead: each dy lands on exactly one element
/// of the full-resolution gradient, or on none, so their sums over the windows agree. With the
/// relu fold (`activation="relu"`, which drops a dy whose window maximum is not above 0), the
/// window maxima are the forward's pooled output y, and the sum becomes `relu_grad_sum(dy, y)`;
/// without it, `sum(dy)`. For a 2x2 pooling that reads a quarter of the elements twice instead
/// of all of them once. Runs after `fusion` (which folds the relu); left out with the
/// pool-gradient fusion kind (`PassOptions.disabledFusions`). The sums round in another order
/// than the full-resolution sum (the same values added in other groups).
///
///     %5 = maxpool2d(%4) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,16,14,14]
///     %42 = maxpool2d_grad(%39, %4) {kernel=[2,2], stride=[2,2], padding=[0,0], activation="relu"} : f32[B,16,28,28]
///     %44 = sum(%42) {axes=[0,2,3]} : f32[16]
/// becomes (%42 still feeds the weight gradient)
///     %44 = relu_grad_sum(%39, %5) {axes=[0,2,3]} : f32[16]
/// Linear: one scan in graph order.
extension Pass {
    public static let poolGradientSums = Pass(name: "pool-gradient-sums", summary: "sum a tiled max-pool gradient's bias sums from the pooled gradient") { g, context in
        guard !context.options.disabledFusions.contains(.poolGradient),
              g.nodes.contains(where: { $0.op == .maxpool2dGrad }) else { return g }
        /// The forward poolings of each value, by window.
        var pools: [Int: [Value]] = [:]
        var r = GraphRewriter(g, pass: "pool-gradient-sums")
        for v in g.values {
            let node = g[v]
            if node.op == .maxpool2d { pools[node.inputs[0].id, default: []].append(v) }
            if node.op == .sum, let replacement = try pooledSum(g, v, pools: pools, r: r) {
                r.emit(replacement, for: v)
                context.count("bias sums from pooled gradients")
                continue
            }
            try r.copy(v)
        }
        return try r.finish()
    }

    /// The pooled form of the sum `v`, or nil when it is not a tiled max-pool gradient's sum
    /// over both spatial axes (or, with the relu fold, no forward pooling of the same window
    /// precedes it).
    private static func pooledSum(_ g: Graph, _ v: Value, pools: [Int: [Value]], r: GraphRewriter) throws -> Node? {
        let sum = g[v], gradient = g[sum.inputs[0]]
        guard gradient.op == .maxpool2dGrad, !(sum.attributes[.keepdims] ?? false),
              let axes = sum.attributes[.axes], let kernel = gradient.attributes[.kernelSize] else { return nil }
        let spatial = Set(axes.map { $0 < 0 ? $0 + 4 : $0 })
        let a = gradient.attributes
        guard spatial.isSuperset(of: [2, 3]), kernel.count == 2, a[.stride] == kernel,
              (a[.padding] ?? [0]).allSatisfy({ $0 == 0 }), (a[.dilation] ?? [1]).allSatisfy({ $0 == 1 }),
              !(a[.ceilMode] ?? false) else { return nil }
        let dy = gradient.inputs[0], x = gradient.inputs[1]
        var node = sum
        switch a[.activation] ?? "none" {
        case "none":
            node.inputs = [try r.remap(dy, in: v)]
        case "relu":
            func sameWindow(_ p: Value) -> Bool {
                let b = g[p].attributes
                return b[.kernelSize] == kernel && b[.stride] == a[.stride] && b[.padding] == a[.padding]
                    && b[.dilation] == a[.dilation] && b[.ceilMode] == a[.ceilMode] && g[p].type == g[dy].type
            }
            guard let y = pools[x.id]?.first(where: sameWindow) else { return nil }
            node.op = .reluGradSum
            node.attributes["keepdims"] = nil   // false, which relu_grad_sum always is
            node.inputs = [try r.remap(dy, in: v), try r.remap(y, in: v)]
        default:
            return nil
        }
        return node
    }
}
