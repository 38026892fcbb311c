import CConvKernels

// The `winograd` form of conv2d_grad_weight: F(3x3, 4x4) in the C kernel of
// winograd_grad_weight_kernels.h (AVX-512, AVX2+FMA or SSE2 by the CPU).

extension ConvGeometry {
    /// Whether the Winograd weight-gradient kernel computes this gradient for `outChannels`:
    /// one group, a 3x3 window at stride 1 without dilation, padding not negative, eight
    /// transform-domain partial sums within `winogradGradWeightPartialFloats` and one image's
    /// transformed tiles within `winogradGradWeightScratchFloats` (a group holds at least one).
    func allowsWinogradGradWeight(outChannels: Int) -> Bool {
        guard groups == 1, n > 0 else { return false }
        var geometry = gradWeightGeometry(outChannels: outChannels)
        return gc_winograd_grad_weight_fits(&geometry) != 0
            && gc_winograd_grad_weight_sums(&geometry) * 8 <= winogradGradWeightPartialFloats
            && gc_winograd_grad_weight_scratch(&geometry, 1) <= winogradGradWeightScratchFloats
    }
}

/// `dW = Σₙ dy[n] ⋆ x[n]` by Winograd's F(3x3, 4x4): the images in fixed groups
/// (`gc_winograd_grad_weight_group_images`, sized by the shape), at most 8 runs of
/// consecutive groups (fewer where there are fewer groups), each run summing its groups in
/// order into its own transform-domain sum; the runs split over the pool, then the input
/// channels: their sums added in run order and transformed to dW. The runs are fixed by the shape, so the result is
/// the same bits at any thread count. Returns false, writing nothing, for a shape the kernel
/// does not take (`allowsWinogradGradWeight`).
func conv2dGradWeightWinograd(dy: TensorView, x: TensorView, dw: TensorView, _ g: ConvGeometry, workspace: Workspace,
                              pool: WorkerPool) -> Bool {
    guard g.allowsWinogradGradWeight(outChannels: dw.shape[0]) else { return false }
    var geometry = g.gradWeightGeometry(outChannels: dw.shape[0])
    let perGroup = gc_winograd_grad_weight_group_images(&geometry, g.n)
    let groups = (g.n + perGroup - 1) / perGroup, runs = min(groups, 8)
    let sumSize = gc_winograd_grad_weight_sums(&geometry), scratchSize = gc_winograd_grad_weight_scratch(&geometry, perGroup)
    let chunks = pool.chunks(runs)
    let scratch = workspace.floats(scratchSize * chunks + sumSize * runs)
    let sums = scratch + scratchSize * chunks
    withUnsafePointer(to: geometry) { geometry in
        pool.parallelFor(runs) { chunk, range in
            for run in range {
                let first = run * groups / runs, end = (run + 1) * groups / runs
                for group in first..<end {
                    gc_winograd_grad_weight_images(geometry, x.f32, dy.f32, scratch + chunk * scratchSize, sums + run * sumSize,
                                                   group * perGroup, min(g.n, (group + 1) * perGroup), group == first ? 0 : 1)
                }
            }
        }
        pool.parallelFor(g.c) { _, channels in
            gc_winograd_grad_weight_output(geometry, sums, runs, dw.f32, channels.lowerBound, channels.upperBound)
        }
    }
    return true
}

/// The most floats the eight transform-domain partial sums of `conv2dGradWeightWinograd` take
/// (32 MB): each is 36 x C x O rounded up to 16, four times a weight gradient.
let winogradGradWeightPartialFloats = 1 << 23

/// The most floats of scratch one image takes in `conv2dGradWeightWinograd` (16 MB). The call
/// holds one group's scratch per chunk of its runs (at most 8 chunks), not per thread.
let winogradGradWeightScratchFloats = 1 << 22
