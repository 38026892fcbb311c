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
/// `gc_grad_weight_group_images`), the groups split over the pool, each group's sum written
/// to its own partial (group 0 straight into dW), the partials then added in group order. The
/// result is the same bits at any thread count. Returns false, writing nothing, for a shape
/// the kernel does not take (`allowsDirectGradWeight`).
func conv2dGradWeightDirect(dy: TensorView, x: TensorView, dw: TensorView, _ g: ConvGeometry, workspace: Workspace,
                            pool: WorkerPool) -> Bool {
    guard g.allowsDirectGradWeight else { return false }
    var geometry = g.gradWeightGeometry(outChannels: dw.shape[0])
    let perGroup = gc_grad_weight_group_images(&geometry, g.n)
    let groups = (g.n + perGroup - 1) / perGroup
    let chunks = pool.chunks(groups)
    let scratchSize = gc_grad_weight_scratch(&geometry, perGroup)
    let scratch = workspace.floats(scratchSize * chunks + dw.count * (groups - 1))
    let partials = scratch + scratchSize * chunks
    withUnsafePointer(to: geometry) { geometry in
        pool.parallelFor(groups) { chunk, range in
            for group in range {
                let sum = group == 0 ? dw.f32 : partials + (group - 1) * dw.count
                gc_grad_weight_images(geometry, x.f32, dy.f32, scratch + chunk * scratchSize, sum, group * perGroup,
                                      min(g.n, (group + 1) * perGroup))
            }
        }
    }
    addPartials(dw, partials, chunks: groups)
    return true
}
