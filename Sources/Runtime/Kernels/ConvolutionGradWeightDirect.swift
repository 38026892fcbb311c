import CConvKernels

// The `direct` form of conv2d_grad_weight: the C kernel of conv_grad_kernels.h (AVX-512,
// AVX2+FMA or SSE2 by the CPU), without im2col or GEMM.

extension ConvGeometry {
    /// The geometry as the direct weight-gradient kernel takes it (one group).
    func gradWeightGeometry(outChannels: Int) -> gc_grad_weight_geometry {
        gc_grad_weight_geometry(channels: c, out_channels: outChannels, height: h, width: w, out_height: oh, out_width: ow,
                                kernel_h: kh, kernel_w: kw, stride_h: sh, stride_w: sw, pad_h: ph, pad_w: pw,
                                dilation_h: dh, dilation_w: dw)
    }

    /// Whether the direct kernel computes this weight gradient: one group, padding at the
    /// start not negative, a non-empty output plane.
    var allowsDirectGradWeight: Bool {
        groups == 1 && ph >= 0 && pw >= 0 && oh > 0 && ow > 0 && n > 0 && kh > 0 && kw > 0
    }
}

/// `dW = Σₙ dy[n] ⋆ x[n]` by the direct kernel: the images in fixed groups (sized by the shape,
/// `gc_grad_weight_group_images`), the groups in fixed runs of consecutive groups split over
/// the pool, each run summed in group order into its own partial (run 0 straight into dW),
/// the partials then added in run order. The result is the same bits at any thread count.
/// One partial per group while their memory stays within `partialFloats` (and always at
/// least 8 runs where there are as many groups, for the threads): a group holds one image of a
/// large layer, so one partial per group would take batch x weights floats (a 3x3 512-channel
/// layer at batch 128: 1.2 GB, kept by the workspace). Returns false, writing nothing, for a
/// shape the kernel does not take (`allowsDirectGradWeight`).
func conv2dGradWeightDirect(dy: TensorView, x: TensorView, dw: TensorView, _ g: ConvGeometry, workspace: Workspace,
                            pool: WorkerPool, partialFloats: Int = directGradWeightPartialFloats) -> Bool {
    guard g.allowsDirectGradWeight else { return false }
    var geometry = g.gradWeightGeometry(outChannels: dw.shape[0])
    let perGroup = gc_grad_weight_group_images(&geometry, g.n)
    let groups = (g.n + perGroup - 1) / perGroup
    let runs = min(groups, max(8, partialFloats / max(dw.count, 1)))
    let chunks = pool.chunks(runs)
    let scratchSize = gc_grad_weight_scratch(&geometry, perGroup)
    // A run of several groups sums each later group into the chunk's own dW-sized buffer first.
    let own = runs < groups ? dw.count : 0
    let scratch = workspace.floats((scratchSize + own) * chunks + dw.count * (runs - 1))
    let partials = scratch + scratchSize * chunks, owned = partials + dw.count * (runs - 1)
    withUnsafePointer(to: geometry) { geometry in
        pool.parallelFor(runs) { chunk, range in
            for run in range {
                let sum = run == 0 ? dw.f32 : partials + (run - 1) * dw.count
                let first = run * groups / runs, end = (run + 1) * groups / runs
                for group in first..<end {
                    let into = group == first ? sum : owned + chunk * own
                    gc_grad_weight_images(geometry, x.f32, dy.f32, scratch + chunk * scratchSize, into, group * perGroup,
                                          min(g.n, (group + 1) * perGroup))
                    if group != first { for i in 0..<dw.count { sum[i] += into[i] } }
                }
            }
        }
    }
    addPartials(dw, partials, chunks: runs)
    return true
}

/// The most floats `conv2dGradWeightDirect`'s per-group partial sums take (16 MB).
let directGradWeightPartialFloats = 1 << 22
