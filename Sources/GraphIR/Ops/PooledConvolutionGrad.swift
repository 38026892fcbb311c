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
