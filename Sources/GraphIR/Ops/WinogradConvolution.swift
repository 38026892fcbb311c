// Winograd F(4x4, 3x3) convolution over the blocked channel layout: a 3x3 stride-1
// convolution computed tile by tile as A^T [(G g G^T) . (B^T d B)] A (Lavin and Gray, 2016),
// 36 products per 4x4 outputs instead of 144. The weight's transform G g G^T is an op of its
// own, computed from parameters alone, so an executor that keeps parameter-only values
// computes it once. Inference only, like the blocked ops: the blocked-layout pass makes them
// where the tuner (or the fixed default) chose Winograd for a layer.

/// Points of F(4x4, 3x3): the 6x6 transformed patch.
public let winogradPoints = 36

/// `winograd_weight_transform(w)`: w [O, C, 3, 3] -> u [36, O/16, C, 16], u[p] = G w G^T at
/// point p; O and C multiples of 16.
public enum WinogradWeightTransformOp: OpSpec {
    public static let name = "winograd_weight_transform"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// G w (6x3 by 3x3) then (G w) G^T (6x3 by 3x6) per output and input channel.
    public static func flops(_ q: CostQuery) -> Double { q.dim(0, 0) * q.dim(0, 1) * 2 * (6 * 3 * 3 + 6 * 6 * 3) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireRank(0, 4...4)
        let s = q.input(0).shape
        let o = try knownDim(s[0], "output channels"), c = try knownDim(s[1], "input channels")
        guard s[2] == .known(3), s[3] == .known(3) else { throw ShapeError("the Winograd transform takes a 3x3 kernel, got \(q.input(0))") }
        guard o % channelBlock == 0, c % channelBlock == 0 else {
            throw ShapeError("output channels (\(o)) and input channels (\(c)) must be multiples of \(channelBlock)")
        }
        return .f32(Shape([.known(winogradPoints), .known(o / channelBlock), .known(c), .known(channelBlock)]))
    }
}

/// `winograd_conv2d(x, u, scale, shift[, residual]) {stride, padding, activation}`: as
/// `blocked_conv2d` (`activation(conv2d(x, w) * scale + shift (+ residual))` in the blocked
/// layout) for a 3x3 kernel at stride 1, from u = `winograd_weight_transform(w)`: x is
/// [N, C/16, H, W, 16], the result [N, O/16, H + 2p - 2, W + 2p - 2, 16].
public enum WinogradConv2dOp: OpSpec {
    public static let name = "winograd_conv2d"
    public static let arity = Arity.between(4, 5)
    public static let fusion = FusionClass.opaque
    public static let attributes = windowGeometry + [EpilogueActivation.spec]
    /// The Winograd arithmetic, not the direct convolution's: per 4x4 tile, the 36 batched
    /// products (2 C O each), the input transform (about 264 adds and multiplies per input
    /// channel) and the output transform (about 160 per output channel).
    public static func flops(_ q: CostQuery) -> Double {
        let y = q.output.map(Double.init)
        guard y.count == 5 else { return 0 }
        let tiles = y[0] * (y[2] / 4).rounded(.up) * (y[3] / 4).rounded(.up)
        let c = q.dim(1, 2), o = q.dim(1, 1) * Double(channelBlock)
        return tiles * (Double(winogradPoints) * 2 * c * o + 264 * c + 160 * o)
    }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        _ = try EpilogueActivation(q.attributes)
        try requireSymmetricPadding(q)
        guard q.attributes[.stride] == [1, 1] else { throw ShapeError("winograd_conv2d computes stride [1, 1] only, got \(q.attributes[.stride] ?? [])") }
        for i in 0..<q.inputs.count { try q.requireFloat(i) }
        try q.requireRank(0, 5...5); try q.requireRank(1, 4...4, "transformed weight")
        let x = q.input(0), u = q.input(1).shape
        guard u[0] == .known(winogradPoints), u[3] == .known(channelBlock) else {
            throw ShapeError("transformed weight \(q.input(1)) must be [\(winogradPoints), O/16, C, \(channelBlock)]")
        }
        let blocks = try knownDim(x.shape[1], "input channel blocks")
        guard x.shape[4] == .known(channelBlock), u[2] == .known(blocks * channelBlock) else {
            throw ShapeError("blocked input \(x) does not match the transformed weight \(q.input(1))")
        }
        let out = try knownDim(u[1], "output blocks") * channelBlock
        for (i, what) in [(2, "scale"), (3, "shift")] where !(q.input(i).shape == Shape([.known(out)]) || q.input(i).rank == 0) {
            throw ShapeError("\(what) \(q.input(i)) must be [\(out)] or a scalar")
        }
        let plain = TensorType.f32(Shape(Array(x.shape.dims.prefix(4))))
        let y = try window2d(q, input: plain, channels: .known(out / channelBlock), kernel: [3, 3], what: "winograd_conv2d")
        let result = TensorType.f32(Shape(y.shape.dims + [.known(channelBlock)]))
        if q.inputs.count == 5, q.input(4) != result {
            throw ShapeError("residual \(q.input(4)) must be shaped as the result \(result)")
        }
        return result
    }
}

extension OpDef {
    public static let winogradWeightTransform = OpDef(WinogradWeightTransformOp.self)
    public static let winogradConv2d = OpDef(WinogradConv2dOp.self)
}
