import CConvKernels
import GraphIR

// CPU kernel of the op declared in GraphIR/Ops/PooledConvolutionGrad.swift (the loops are C,
// Sources/CConvKernels/pooled_grad_weight_body.h).

extension PooledConv2dGradWeightOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        pooledConv2dGradWeight(dp: c.inputs[0], y: c.inputs[1], x: c.inputs[2], dw: c.output, attributes: c.attributes,
                               workspace: c.workspace, pool: c.pool)
    }
}

/// The pooling the op routes its gradient through: 2x2 windows, stride 2, no padding.
let pairPoolAttributes: Attributes = ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0])]

/// Whether the C kernel takes a convolution: 3x3, stride 1, no dilation (any padding).
func pooledGradWeightHasKernel(weight: [Int], attributes: Attributes) -> Bool {
    let window = Window2d(attributes)
    return weight.count == 4 && weight[2] == 3 && weight[3] == 3 && window.stride == [1, 1] && window.dilation == [1, 1]
}

/// dw from the pooled gradient: output channels split over the pool (each chunk sums its
/// channels over every image in one fixed order, so the bits do not depend on the split), a
/// chunk's channels a slice at a time so that their accumulators (16 lanes per weight) stay
/// within `pooledGradWeightAccumulatorFloats`. Other windows run the two ops the node
/// replaces, through a full-resolution buffer.
func pooledConv2dGradWeight(dp: TensorView, y: TensorView, x: TensorView, dw: TensorView, attributes: Attributes,
                            workspace: Workspace, pool: WorkerPool = .serial) {
    let relu = attributes[.activation] == "relu"
    guard pooledGradWeightHasKernel(weight: dw.shape, attributes: attributes) else {
        var poolAttributes = pairPoolAttributes
        if relu { poolAttributes[.activation] = "relu" }
        var full = [Float](repeating: 0, count: max(y.count, 1))
        full.withUnsafeMutableBytes { m in
            guard let base = m.baseAddress else { return }
            let dy = TensorView(data: base, shape: y.shape, dtype: .f32)
            maxpool2dBackward(dy: dp, x: y, dx: dy, attributes: poolAttributes, pool: pool)
            conv2dGradWeight(dy: dy, x: x, dw: dw, attributes: attributes, workspace: workspace, pool: pool)
        }
        return
    }
    let window = Window2d(attributes)
    let outC = dw.shape[0], inC = dw.shape[1]
    let perChannel = gc_pooled_grad_weight3x3_scratch(inC, 1, 0, 0) - gc_pooled_grad_weight3x3_scratch(inC, 0, 0, 0)
    let slices = OutputChannelSlices(outChannels: outC, perChannelFloats: perChannel, pool: pool)
    let scratchSize = gc_pooled_grad_weight3x3_scratch(inC, slices.slice, y.shape[2], y.shape[3])
    let scratch = workspace.floats(scratchSize * slices.chunks)
    slices.run(pool) { chunk, channels in
        gc_pooled_grad_weight3x3(dp.f32, y.f32, x.f32, dw.f32, x.shape[0], inC, outC, x.shape[2], x.shape[3],
                                 y.shape[2], y.shape[3], window.padBegin[0], window.padBegin[1], relu ? 1 : 0,
                                 scratch + chunk * scratchSize, channels.lowerBound, channels.upperBound)
    }
}

/// Output channels shared out over the pool for the pooled weight-gradient kernels: one chunk
/// per thread, each taking its channels a slice at a time so that a slice's accumulators
/// (`perChannelFloats` each) stay within `pooledGradWeightAccumulatorFloats`. Each channel's
/// sums run over every image in one fixed order whatever the chunk or slice, so neither the
/// thread count nor the slicing changes a bit; a slice only repeats the per-image input copies.
struct OutputChannelSlices {
    let outChannels: Int
    /// Chunks `run` splits into (each needs its own scratch) and channels per slice.
    let chunks: Int, slice: Int

    init(outChannels: Int, perChannelFloats: Int, pool: WorkerPool) {
        self.outChannels = outChannels
        chunks = pool.chunks(outChannels, perThread: 1)
        let perChunk = (outChannels + chunks - 1) / max(chunks, 1)
        slice = max(1, min(perChunk, pooledGradWeightAccumulatorFloats / max(perChannelFloats, 1)))
    }

    /// `body(chunk, channels)` for every slice of every chunk.
    func run(_ pool: WorkerPool, _ body: (_ chunk: Int, _ channels: Range<Int>) -> Void) {
        pool.parallelFor(outChannels, perThread: 1) { chunk, channels in
            for begin in stride(from: channels.lowerBound, to: channels.upperBound, by: slice) {
                body(chunk, begin..<min(begin + slice, channels.upperBound))
            }
        }
    }
}

/// The most floats of accumulators one chunk of `pooledConv2dGradWeight` holds at a time (4 MB:
/// 16 lanes per weight of its slice of output channels; at least one channel's).
let pooledGradWeightAccumulatorFloats = 1 << 20

extension FusedConv2dMaxpoolOp: KernelOp {
    /// Images split over the pool: each pooled value is its window's alone, so no split changes a bit.
    public static func kernel(_ c: KernelContext) {
        let x = c.inputs[0], w = c.inputs[1], y = c.output, window = Window2d(c.attributes)
        // Nothing to write (an empty tensor through the Swift API): no scratch sized by padding.
        guard y.count > 0 else { return }
        let bias = c.inputs.count > 2 ? UnsafePointer(c.inputs[2].f32) : nil
        let (inC, outC, h, wd) = (x.shape[1], w.shape[0], 2 * y.shape[2], 2 * y.shape[3])
        let relu: Int32 = c.attributes[.activation] == "relu" ? 1 : 0
        let chunks = c.pool.chunks(x.shape[0], perThread: 1)
        let scratchSize = gc_conv3x3_pool2_scratch(inC, h, wd)
        let scratch = c.workspace.floats(scratchSize * chunks)
        c.pool.parallelFor(x.shape[0], perThread: 1) { chunk, images in
            gc_conv3x3_pool2(x.f32, w.f32, bias, y.f32, inC, outC, x.shape[2], x.shape[3], h, wd, window.padBegin[0],
                             window.padBegin[1], relu, scratch + chunk * scratchSize, images.lowerBound, images.upperBound)
        }
    }
}

extension RecomputedPooledConv2dGradWeightOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        recomputedPooledConv2dGradWeight(dp: c.inputs[0], x: c.inputs[1], w: c.inputs[2],
                                         bias: c.inputs.count > 3 ? c.inputs[3] : nil, dw: c.output,
                                         attributes: c.attributes, workspace: c.workspace, pool: c.pool)
    }
}

/// dw from the pooled gradient, the windows recomputed from x, w and the bias: output channels
/// shared out as `pooledConv2dGradWeight` shares them (`OutputChannelSlices`: a fixed order per
/// channel, so neither threads nor slices change a bit; at most 4 MB of accumulators a chunk).
func recomputedPooledConv2dGradWeight(dp: TensorView, x: TensorView, w: TensorView, bias: TensorView?, dw: TensorView,
                                      attributes: Attributes, workspace: Workspace, pool: WorkerPool = .serial) {
    let window = Window2d(attributes)
    guard dw.count > 0 else { return }
    // No windows (an empty batch or plane): the gradient is zero, and no scratch is sized by padding.
    guard dp.count > 0 else { dw.f32.update(repeating: 0, count: dw.count); return }
    let (inC, outC, h, wd) = (x.shape[1], w.shape[0], 2 * dp.shape[2], 2 * dp.shape[3])
    let relu: Int32 = attributes[.activation] == "relu" ? 1 : 0
    let perChannel = gc_recomputed_pooled_grad_weight3x3_scratch(inC, 1, 0, 0) - gc_recomputed_pooled_grad_weight3x3_scratch(inC, 0, 0, 0)
    let slices = OutputChannelSlices(outChannels: outC, perChannelFloats: perChannel, pool: pool)
    let scratchSize = gc_recomputed_pooled_grad_weight3x3_scratch(inC, slices.slice, h, wd)
    let scratch = workspace.floats(scratchSize * slices.chunks)
    let b = bias.map { UnsafePointer($0.f32) }
    slices.run(pool) { chunk, channels in
        gc_recomputed_pooled_grad_weight3x3(dp.f32, x.f32, w.f32, b, dw.f32, x.shape[0], inC, outC, x.shape[2],
                                            x.shape[3], h, wd, window.padBegin[0], window.padBegin[1], relu,
                                            scratch + chunk * scratchSize, channels.lowerBound, channels.upperBound)
    }
}
