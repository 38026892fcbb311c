import GraphIR

/// `fuse-conv-pool`: a blocked convolution that only a 2x2 stride-2 unpadded max pooling
/// reads becomes one `blocked_conv2d_maxpool`, which pools as it stores: the full-resolution
/// activation (four times the pooled one) is never written nor read back. Runs after
/// `blocked-layout`, in the inference and evaluation pipelines (the blocked ops have no
/// gradients). Convolutions with a residual, Winograd's and other poolings stay as they are.
///
///     %6 = blocked_conv2d(%0, %4, %5, %3) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,1,28,28,16]
///     %7 = blocked_maxpool2d(%6) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,1,14,14,16]
/// becomes (%6 is then dead)
///     %7 = blocked_conv2d_maxpool(%0, %4, %5, %3) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,1,14,14,16]
/// Linear: one scan in graph order.
extension Pass {
    public static let fuseConvPool = Pass(name: "fuse-conv-pool", summary: "pool 2x2 in the store of the blocked convolution the pooling alone reads") { g, context in
        guard g.nodes.contains(where: { $0.op == .blockedMaxpool2d }) else { return g }
        let uses = context.useCounts(g)
        var r = GraphRewriter(g, pass: "fuse-conv-pool")
        for v in g.values {
            let node = g[v]
            if node.op == .blockedMaxpool2d, node.attributes[.kernelSize] == [2, 2], node.attributes[.stride] == [2, 2],
               (node.attributes[.padding] ?? [0, 0]).allSatisfy({ $0 == 0 }) {
                let conv = g[node.inputs[0]]
                if conv.op == .blockedConv2d, conv.inputs.count == 4, uses[node.inputs[0].id] == 1 {
                    var fused = conv
                    fused.op = .blockedConv2dMaxpool
                    fused.inputs = try conv.inputs.map { try r.remap($0, in: v) }
                    fused.type = node.type
                    fused.location = node.location
                    fused.scope = node.scope
                    r.emit(fused, for: v)
                    context.count("convolutions pooled in their store")
                    continue
                }
            }
            try r.copy(v)
        }
        return try r.finish()
    }
}
