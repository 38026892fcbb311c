// Convolution over a blocked channel layout (NCHWc, as onnxruntime's MLAS and oneDNN use):
// [N, C, H, W] is held as [N, C/16, H, W, 16], so sixteen channels of one position are one
// vector and a convolution's inner loop is a vector multiply-add per input channel and tap.
// The blocked-layout pass makes these ops in inference graphs only: they have no gradient
// rules, and a training graph keeps conv2d (whose backward works on [N, C, H, W]).

/// Channels per block of the blocked layout (the same on every CPU, so a compiled graph is).
public let channelBlock = 16

extension AttributeKey where Value == Int {
    /// A packed convolution weight's input-channel block: 16 for a blocked input, 1 for a
    /// plain [N, C, H, W] one (an image's few colour channels are not worth blocking).
    public static let inBlock = AttributeKey("in_block")
}

/// A dimension that must be a known number (a blocked op's channels and window sizes).
func knownDim(_ d: Dim, _ what: String) throws -> Int {
    guard let v = d.value else { throw ShapeError("\(what) must be a known number, got \(d)") }
    return v
}

/// `reorder_to_blocked(x)`: f32[N, C, H, W] -> f32[N, C/16, H, W, 16]; C a multiple of 16.
public enum ReorderToBlockedOp: OpSpec {
    public static let name = "reorder_to_blocked"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// Data movement only.
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireRank(0, 4...4)
        let s = q.input(0).shape
        let c = try knownDim(s[1], "channels")
        guard c % channelBlock == 0 else { throw ShapeError("channels (\(c)) must be a multiple of \(channelBlock) to block") }
        return .f32(Shape([s[0], .known(c / channelBlock), s[2], s[3], .known(channelBlock)]))
    }
}

/// `reorder_from_blocked(x)`: f32[N, C/16, H, W, 16] -> f32[N, C, H, W].
public enum ReorderFromBlockedOp: OpSpec {
    public static let name = "reorder_from_blocked"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireRank(0, 5...5)
        let s = q.input(0).shape
        guard s[4] == .known(channelBlock) else { throw ShapeError("the last axis must be the block of \(channelBlock) channels, got \(q.input(0))") }
        let blocks = try knownDim(s[1], "channel blocks")
        return .f32(Shape([s[0], .known(blocks * channelBlock), s[2], s[3]]))
    }
}

/// `pack_conv_weight(w) {in_block}`: w [O, C, kh, kw] -> [O/16, C/ib, kh, kw, ib, 16], the
/// sixteen output channels of one input channel and tap side by side.
public enum PackConvWeightOp: OpSpec {
    public static let name = "pack_conv_weight"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = [.required(.inBlock, .atLeast(1))]
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireRank(0, 4...4)
        let s = q.input(0).shape
        let ib = q.attributes[.inBlock] ?? 0
        guard ib == 1 || ib == channelBlock else { throw ShapeError("in_block must be 1 or \(channelBlock), got \(ib)") }
        let o = try knownDim(s[0], "output channels"), c = try knownDim(s[1], "input channels")
        guard o % channelBlock == 0 else { throw ShapeError("output channels (\(o)) must be a multiple of \(channelBlock)") }
        guard c % ib == 0 else { throw ShapeError("input channels (\(c)) must be a multiple of in_block \(ib)") }
        return .f32(Shape([.known(o / channelBlock), .known(c / ib), s[2], s[3], .known(ib), .known(channelBlock)]))
    }
}

/// `blocked_conv2d(x, w, scale, shift[, residual]) {stride, padding, activation}`:
/// `activation(conv2d(x, w) * scale + shift (+ residual))` per output channel, in the blocked
/// layout: w is packed (`pack_conv_weight`), x is [N, C/16, H, W, 16] (in_block 16) or
/// [N, C, H, W] (in_block 1), scale and shift are [O] or scalars (a folded BatchNorm and
/// bias), residual and the result are [N, O/16, H', W', 16].
public enum BlockedConv2dOp: OpSpec {
    public static let name = "blocked_conv2d"
    public static let arity = Arity.between(4, 5)
    public static let fusion = FusionClass.opaque
    /// One group, no dilation: the blocked-layout pass blocks only such convolutions.
    public static let attributes = windowGeometry + [EpilogueActivation.spec]
    /// Each output element is a dot product over C*kh*kw inputs (w's axes 1 to 4).
    public static func flops(_ q: CostQuery) -> Double {
        2 * q.outputCount * q.dim(1, 1) * q.dim(1, 2) * q.dim(1, 3) * q.dim(1, 4)
    }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        _ = try EpilogueActivation(q.attributes)
        try requireSymmetricPadding(q)
        for i in 0..<q.inputs.count { try q.requireFloat(i) }
        try q.requireRank(1, 6...6, "packed weight")
        let w = q.input(1).shape, x = q.input(0)
        let ib = try knownDim(w[4], "the weight's input block")
        guard w[5] == .known(channelBlock) else { throw ShapeError("packed weight \(q.input(1)) must end in \(channelBlock) output channels") }
        if ib == channelBlock {
            try q.requireRank(0, 5...5)
            guard x.shape[1] == w[1], x.shape[4] == .known(channelBlock) else {
                throw ShapeError("blocked input \(x) does not match the packed weight \(q.input(1))")
            }
        } else {
            try q.requireRank(0, 4...4)
            guard ib == 1, x.shape[1] == w[1] else { throw ShapeError("plain input \(x) does not match the packed weight \(q.input(1))") }
        }
        let out = try knownDim(w[0], "output blocks") * channelBlock
        for (i, what) in [(2, "scale"), (3, "shift")] where !(q.input(i).shape == Shape([.known(out)]) || q.input(i).rank == 0) {
            throw ShapeError("\(what) \(q.input(i)) must be [\(out)] or a scalar")
        }
        guard let kh = w[2].value, let kw = w[3].value else { throw ShapeError("kernel size must be known") }
        let plain = TensorType.f32(Shape(Array(x.shape.dims.prefix(4))))
        let y = try window2d(q, input: plain, channels: w[0], kernel: [kh, kw], what: "blocked_conv2d")
        let result = TensorType.f32(Shape(y.shape.dims + [.known(channelBlock)]))
        if q.inputs.count == 5, q.input(4) != result {
            throw ShapeError("residual \(q.input(4)) must be shaped as the result \(result)")
        }
        return result
    }
}

/// `blocked_maxpool2d(x) {kernel, stride, padding}`: max pooling of [N, C/16, H, W, 16].
public enum BlockedMaxpool2dOp: OpSpec {
    public static let name = "blocked_maxpool2d"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    /// No dilation or ceil mode: the blocked-layout pass blocks only such poolings.
    public static let attributes: [AttributeSpec] = [.required(.kernelSize, .eachAtLeast(1))] + windowGeometry
    public static func flops(_ q: CostQuery) -> Double { q.outputCount * windowSize(q) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try requireSymmetricPadding(q)
        try q.requireFloat(0); try q.requireRank(0, 5...5)
        let x = q.input(0)
        guard x.shape[4] == .known(channelBlock) else { throw ShapeError("input \(x) must end in a block of \(channelBlock) channels") }
        let k = try q.required(.kernelSize, count: 2)
        let y = try window2d(q, input: .f32(Shape(Array(x.shape.dims.prefix(4)))), channels: x.shape[1], kernel: k, what: "blocked_maxpool2d")
        return .f32(Shape(y.shape.dims + [.known(channelBlock)]))
    }
}

extension OpDef {
    public static let reorderToBlocked = OpDef(ReorderToBlockedOp.self)
    public static let reorderFromBlocked = OpDef(ReorderFromBlockedOp.self)
    public static let packConvWeight = OpDef(PackConvWeightOp.self)
    public static let blockedConv2d = OpDef(BlockedConv2dOp.self)
    public static let blockedMaxpool2d = OpDef(BlockedMaxpool2dOp.self)
}

/// The blocked kernels pad each axis the same at both ends: `padding` is [h, w].
func requireSymmetricPadding(_ q: ShapeQuery) throws {
    if let p = q.attributes[.padding], p.count != 2 {
        throw ShapeError("padding must be [h, w] for the blocked kernels, got \(p)")
    }
}
