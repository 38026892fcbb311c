// The blocked convolution with 2x2 max pooling applied as it stores (the `fuse-conv-pool`
// pass makes it from a blocked_conv2d that only a 2x2 stride-2 blocked_maxpool2d reads):
// the full-resolution activation is never written nor read back. Inference and evaluation
// graphs only, as the other blocked ops: no gradient rule.

/// `blocked_conv2d_maxpool(x, w, scale, shift) {stride, padding, activation}`:
/// `maxpool2d(activation(conv2d(x, w) * scale + shift), kernel 2x2, stride 2)` in the blocked
/// layout, operands as `blocked_conv2d`'s (without a residual); the convolution's H' x W'
/// output pools to floor(H'/2) x floor(W'/2), as unpadded 2x2 max pooling does.
public enum BlockedConv2dMaxpoolOp: OpSpec {
    public static let name = "blocked_conv2d_maxpool"
    public static let arity = Arity.exactly(4)
    public static let fusion = FusionClass.opaque
    public static let attributes = windowGeometry + [EpilogueActivation.spec]
    /// The convolution's products (about four per pooled output) and the pooling's compares.
    public static func flops(_ q: CostQuery) -> Double {
        4 * q.outputCount * (2 * q.dim(1, 1) * q.dim(1, 2) * q.dim(1, 3) * q.dim(1, 4) + 1)
    }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let conv = try BlockedConv2dOp.shape(q)
        let s = conv.shape
        let h = try knownDim(s[2], "the convolution's height"), w = try knownDim(s[3], "the convolution's width")
        guard h >= 2, w >= 2 else {
            throw ShapeError("the convolution's output (\(h)x\(w)) is smaller than the 2x2 pooling window")
        }
        return .f32(Shape([s[0], s[1], .known(h / 2), .known(w / 2), s[4]]))
    }
}

extension OpDef {
    public static let blockedConv2dMaxpool = OpDef(BlockedConv2dMaxpoolOp.self)
}
