/// The ways an inference graph's convolution can run; the `blocked-layout` pass emits the
/// ops of the one chosen for each layer (by `PassOptions.convolutionChooser`).
public enum ConvolutionAlgorithm: String, CaseIterable, Sendable {
    /// The direct convolution over the blocked layout (`blocked_conv2d`), BatchNorm, residual
    /// add and ReLU applied at its store: the fixed default.
    case blocked
    /// Winograd F(4x4, 3x3) over the blocked layout (`winograd_weight_transform`,
    /// `winograd_conv2d`), the same epilogue: 3x3 stride-1 layers only.
    case winograd
    /// `conv2d` left as it is: im2col and an OpenBLAS product over [N, C, H, W], what follows
    /// it run as separate (or fused) ops.
    case im2col

    /// A chooser that takes this algorithm wherever it is a candidate, else the default.
    public var chooser: ConvolutionChooser {
        let wanted = self
        return { _, candidates in candidates.contains(wanted) ? wanted : candidates[0] }
    }
}

/// One convolution layer as a choice of algorithm sees it: its sizes, and what its store
/// applies besides the BatchNorm scale and shift.
public struct ConvolutionLayer: Hashable, Sendable, CustomStringConvertible {
    public var batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int
    public var kernel: [Int], stride: [Int], padding: [Int]
    public var residual: Bool, relu: Bool
    /// A 2x2 stride-2 max pooling alone reads the layer's result: `.blocked` then pools in its
    /// store (`blocked_conv2d_maxpool`), the other algorithms run the pooling after.
    public var pool: Bool

    public init(batch: Int, inChannels: Int, height: Int, width: Int, outChannels: Int, kernel: [Int], stride: [Int],
                padding: [Int], residual: Bool, relu: Bool, pool: Bool = false) {
        self.batch = batch; self.inChannels = inChannels; self.height = height; self.width = width
        self.outChannels = outChannels; self.kernel = kernel; self.stride = stride; self.padding = padding
        self.residual = residual; self.relu = relu; self.pool = pool
    }

    public var description: String {
        "\(batch)x\(inChannels)x\(height)x\(width) -> \(outChannels) k\(kernel.map(String.init).joined(separator: "x"))"
            + " s\(stride.map(String.init).joined(separator: "x")) p\(padding.map(String.init).joined(separator: "x"))"
            + (residual ? " +residual" : "") + (relu ? " relu" : "") + (pool ? " maxpool2x2" : "")
    }
}

/// Picks one of `candidates` (never empty; the first is the fixed default) for `layer`.
public typealias ConvolutionChooser = @Sendable (_ layer: ConvolutionLayer, _ candidates: [ConvolutionAlgorithm]) -> ConvolutionAlgorithm
