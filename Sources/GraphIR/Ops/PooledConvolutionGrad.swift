// A convolution's weight gradient taken through the 2x2 max pooling that follows it, without
// the full-resolution gradient the max-pool backward would write.

/// `pooled_conv2d_grad_weight(dp, y, x, w) {stride, padding, dilation?, activation?}`: the
/// gradient for w of a convolution of x whose output y [N,O,H,W] (H and W even) was max-pooled
/// by 2x2 windows with stride 2, given the pooled gradient dp [N,O,H/2,W/2]:
/// `conv2d_grad_weight(maxpool2d_grad(dp, y) {kernel=[2,2], stride=[2,2], padding=[0,0],
/// activation}, x, w) {stride, padding, dilation}`. Each window's dp goes to its first maximum
/// in scan order (a NaN wins, the first one), as maxpool2d_grad routes it; with
/// `activation="relu"` a dp whose maximum is not above 0 is dropped. Made by the
/// `pooled-weight-gradients` pass; no channel groups. A backward op: it has no gradient of its own.
public enum PooledConv2dGradWeightOp: OpSpec {
    public static let name = "pooled_conv2d_grad_weight"
    public static let arity = Arity.exactly(4)
    public static let fusion = FusionClass.opaque
    public static let attributes = windowGeometry + [.optional(.dilation, .eachAtLeast(1)), EpilogueActivation.spec]
    /// The products of the four positions of each window (three of them with a zero gradient)
    /// and the window's comparisons.
    public static func flops(_ q: CostQuery) -> Double {
        4 * q.count(0) * (2 * Double(q.output.dropFirst().reduce(1, *)) + 1)
    }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        _ = try EpilogueActivation(q.attributes)
        for i in 0..<4 { try q.requireFloat(i, ["pooled gradient", "convolution output", "input", "weight"][i]) }
        for i in 0..<4 { try q.requireRank(i, 4...4) }
        let dp = q.input(0), y = q.input(1), x = q.input(2), w = q.input(3)
        guard x.shape[1] == w.shape[1] else {
            throw ShapeError("input has \(x.shape[1]) channels but the weight \(w.shape) expects \(w.shape[1]) (no groups)")
        }
        guard let kh = w.shape[2].value, let kw = w.shape[3].value else { throw ShapeError("kernel size must be known") }
        let conv = try window2d(q, input: x, channels: w.shape[0], kernel: [kh, kw], what: "pooled_conv2d_grad_weight")
        guard conv.shape == y.shape else { throw ShapeError("convolution output \(y) must be the convolution's shape \(conv.shape)") }
        guard case .known(let h) = y.shape[2], case .known(let wd) = y.shape[3], h % 2 == 0, wd % 2 == 0 else {
            throw ShapeError("convolution output \(y) must have an even height and width (2x2 windows tiling it)")
        }
        let pooled = Shape([y.shape[0], y.shape[1], .known(h / 2), .known(wd / 2)])
        guard dp.shape == pooled else { throw ShapeError("pooled gradient \(dp) must be the pooled shape \(pooled)") }
        return w
    }
}

extension OpDef {
    public static let pooledConv2dGradWeight = OpDef(PooledConv2dGradWeightOp.self)
}

// A small convolution pooled in its store during training, and its weight gradient recomputing
// the pre-pool values instead of reading them (`recompute-pooled-convolutions`).

/// The most input channels of the convolutions `recompute-pooled-convolutions` recomputes:
/// each weight gradient repeats the forward's products, cheap only for few input channels (the
/// C kernels' GC_PC_MAX_IN_CHANNELS).
public let recomputedConvolutionMaxInChannels = 4
/// The most padding on each side of those convolutions: a 3x3 window's widest that still
/// reads the input.
public let recomputedConvolutionMaxPadding = 2

/// The 2x2-pooled shape of a 3x3 stride-1 undilated convolution of input `x` (operand i) by
/// `w` (operand i + 1) with bias operand i + 2 when present: checked that the kernels take it
/// (at most `recomputedConvolutionMaxInChannels` input channels, no groups, padding at most
/// `recomputedConvolutionMaxPadding`, even output sides).
func recomputedConvolutionPooledShape(_ q: ShapeQuery, input i: Int, what: String) throws -> Shape {
    _ = try EpilogueActivation(q.attributes)
    for k in i..<q.inputs.count { try q.requireFloat(k, ["input", "weight", "bias"][k - i]) }
    try q.requireRank(i, 4...4, "input"); try q.requireRank(i + 1, 4...4, "weight")
    let x = q.input(i), w = q.input(i + 1)
    guard w.shape[2] == .known(3), w.shape[3] == .known(3), let c = w.shape[1].value, c <= recomputedConvolutionMaxInChannels,
          x.shape[1] == w.shape[1] else {
        throw ShapeError("\(what) takes a 3x3 weight of at most \(recomputedConvolutionMaxInChannels) input channels matching the input's (no groups), got input \(x) and weight \(w)")
    }
    guard (q.attributes[.stride] ?? [1, 1]) == [1, 1], (q.attributes[.dilation] ?? [1, 1]).allSatisfy({ $0 == 1 }) else {
        throw ShapeError("\(what) takes stride 1 and no dilation")
    }
    if q.inputs.count > i + 2 {
        try q.requireRank(i + 2, 1...1, "bias")
        guard q.input(i + 2).shape[0] == w.shape[0] else { throw ShapeError("bias \(q.input(i + 2)) must have the weight's \(w.shape[0]) output channels") }
    }
    let conv = try window2d(q, input: x, channels: w.shape[0], kernel: [3, 3], what: what)
    // The kernels hold each image's input planes with their padding (per pooled window, 16
    // lanes, four column phases): a wider padding only adds rows and columns of zeros there,
    // which could make a tiny input need far more scratch than its output (a trap, not an error).
    let window = Window2d(q.attributes)
    guard (window.padBegin + window.padEnd).allSatisfy({ $0 <= recomputedConvolutionMaxPadding }) else {
        throw ShapeError("\(what) takes a padding of at most \(recomputedConvolutionMaxPadding) on each side (a 3x3 window), got \(q.attributes[.padding] ?? [])")
    }
    guard case .known(let h) = conv.shape[2], case .known(let wd) = conv.shape[3], h % 2 == 0, wd % 2 == 0 else {
        throw ShapeError("\(what): the convolution's output \(conv) must have an even height and width (2x2 windows tiling it)")
    }
    return Shape([x.shape[0], w.shape[0], .known(h / 2), .known(wd / 2)])
}

/// `fused_conv2d_maxpool(x, w[, b]) {stride=[1,1], padding, dilation?, activation?}`:
/// `maxpool2d(fused_conv2d(x, w, b) {stride, padding, activation}) {kernel=[2,2],
/// stride=[2,2], padding=[0,0]}` in one kernel that never stores the convolution's output
/// (NCHW; the evaluation pipeline's blocked_conv2d_maxpool is the blocked layout's). A 3x3
/// weight of at most `recomputedConvolutionMaxInChannels` input channels. Made after autodiff
/// by `recompute-pooled-convolutions`, whose `recomputed_pooled_conv2d_grad_weight` is the
/// weight gradient (it recomputes the windows bit for bit): it has no gradient of its own.
public enum FusedConv2dMaxpoolOp: OpSpec {
    public static let name = "fused_conv2d_maxpool"
    public static let arity = Arity.between(2, 3)
    public static let fusion = FusionClass.opaque
    public static let attributes = windowGeometry + [.optional(.dilation, .eachAtLeast(1)), EpilogueActivation.spec]
    /// The convolution's products (four per pooled value) and the window's comparisons.
    public static func flops(_ q: CostQuery) -> Double { q.outputCount * 4 * (2 * q.dim(1, 1) * 9 + 1) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        .f32(try recomputedConvolutionPooledShape(q, input: 0, what: name))
    }
}

/// `recomputed_pooled_conv2d_grad_weight(dp, x, w[, b]) {stride=[1,1], padding, dilation?,
/// activation?}`: `pooled_conv2d_grad_weight(dp, y, x, w) {stride, padding, activation}` with
/// y = fused_conv2d(x, w, b) {stride, padding, activation} recomputed window by window as
/// fused_conv2d_maxpool computes it (the same bits), not read: the weight gradient of a
/// convolution whose full-resolution output was never stored. Each window's dp goes to its
/// first maximum (a NaN wins, the first one); with `activation="relu"` a dp whose maximum is
/// not above 0 is dropped. A backward op made after autodiff: it has no gradient of its own.
public enum RecomputedPooledConv2dGradWeightOp: OpSpec {
    public static let name = "recomputed_pooled_conv2d_grad_weight"
    public static let arity = Arity.between(3, 4)
    public static let fusion = FusionClass.opaque
    public static let attributes = FusedConv2dMaxpoolOp.attributes
    /// The recomputed windows' products, then the gradient's (four positions per window).
    public static func flops(_ q: CostQuery) -> Double {
        q.count(0) * 4 * (2 * q.dim(2, 1) * 9 + 1) + PooledConv2dGradWeightOp.flops(q)
    }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "pooled gradient"); try q.requireRank(0, 4...4, "pooled gradient")
        let pooled = try recomputedConvolutionPooledShape(q, input: 1, what: name)
        guard q.input(0).shape == pooled else { throw ShapeError("pooled gradient \(q.input(0)) must be the pooled shape \(pooled)") }
        return q.input(2)
    }
}

extension OpDef {
    public static let fusedConv2dMaxpool = OpDef(FusedConv2dMaxpoolOp.self)
    public static let recomputedPooledConv2dGradWeight = OpDef(RecomputedPooledConv2dGradWeightOp.self)
}
