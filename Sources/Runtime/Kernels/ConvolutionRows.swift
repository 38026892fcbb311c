import CConvKernels

// The `rows` forms of conv2d (and fused_conv2d) and conv2d_grad_weight over the plain
// [N, C, H, W] layout: the C kernels of conv_rows_kernels.h, vectorised along the output rows,
// for the few input channels of a network's first layer (where the blocked kernel's 16-channel
// blocks hold one channel and im2col's GEMMs sum over, or produce, a handful of taps).

extension ConvGeometry {
    /// Input channels up to which the `rows` form is a candidate: its loads are shared only by
    /// the output channels, so past a few input planes the blocked kernel's tiles win.
    static let rowsMaxChannels = 4

    /// Whether the row kernel computes this convolution forward: one group, a few input
    /// channels, no dilation, unit stride along the width, padding not negative, a non-empty
    /// output.
    var allowsRowsForward: Bool {
        groups == 1 && c > 0 && c <= Self.rowsMaxChannels && dh == 1 && dw == 1 && sw == 1 && ph >= 0 && pw >= 0
            && h > 0 && w > 0 && oh > 0 && ow > 0
    }

    /// Whether the row kernel computes this weight gradient: as `allowsRowsForward`, a batch,
    /// and a kernel of 1 to 7 columns (the register tile's).
    var allowsRowsGradWeight: Bool { allowsRowsForward && n > 0 && kw <= 7 }

    /// The geometry as the row kernels take it.
    func rowsGeometry(outChannels: Int, relu: Bool = false) -> gc_rows_geometry {
        gc_rows_geometry(channels: c, height: h, width: w, out_channels: outChannels, out_height: oh, out_width: ow,
                         kernel_h: kh, kernel_w: kw, stride_h: sh, pad_h: ph, pad_w: pw, relu: relu ? 1 : 0)
    }

    /// Images per run of the row kernel's weight gradient: at least 8, and at most 64 runs; a
    /// function of the batch alone, so the runs (and the sums) do not depend on the threads.
    var rowsGradWeightRunImages: Int { max(8, (n + 63) / 64) }
}

/// `y = act(conv(x, weight) + bias)` by the row kernel: the weights packed once, the images
/// split over the pool (each chunk pads its images into its own scratch); false (nothing written) where `allowsRowsForward`
/// does not hold. Each output's sum is the same whatever the split.
func conv2dForwardRows(x: TensorView, weight: TensorView, bias: TensorView?, y: TensorView, _ g: ConvGeometry, relu: Bool,
                       workspace: Workspace, pool: WorkerPool) -> Bool {
    guard g.allowsRowsForward else { return false }
    let outC = weight.shape[0]
    var geometry = g.rowsGeometry(outChannels: outC, relu: relu)
    let scratchSize = gc_conv2d_rows_scratch(&geometry), packedSize = gc_conv2d_rows_weights(&geometry)
    let grain = WorkerPool.grain(itemCost: outC * g.patch * g.outPlane)
    let packed = workspace.floats(packedSize + scratchSize * pool.chunks(g.n, grain: grain)), scratch = packed + packedSize
    gc_conv2d_rows_pack(&geometry, weight.f32, packed)
    let b = bias.map { UnsafePointer($0.f32) }
    withUnsafePointer(to: geometry) { geometry in
        pool.parallelFor(g.n, grain: grain) { chunk, images in
            gc_conv2d_rows(geometry, x.f32, packed, b, y.f32, scratch + chunk * scratchSize, images.lowerBound,
                           images.upperBound)
        }
    }
    return true
}

/// `dW = Σₙ dy[n] ⋆ x[n]` by the row kernel: the images in fixed runs (`rowsGradWeightRunImages`)
/// split over the pool, each run written into its own partial (run 0 straight into dW), the
/// partials then added in run order: the same bits at any thread count. False (nothing
/// written) where `allowsRowsGradWeight` does not hold.
func conv2dGradWeightRows(dy: TensorView, x: TensorView, dw: TensorView, _ g: ConvGeometry, workspace: Workspace,
                          pool: WorkerPool) -> Bool {
    guard g.allowsRowsGradWeight else { return false }
    var geometry = g.rowsGeometry(outChannels: dw.shape[0])
    let perRun = g.rowsGradWeightRunImages, runs = (g.n + perRun - 1) / perRun
    let scratchSize = gc_grad_weight_rows_scratch(&geometry)
    let scratch = workspace.floats(scratchSize * pool.chunks(runs) + dw.count * (runs - 1))
    let partials = scratch + scratchSize * pool.chunks(runs)
    withUnsafePointer(to: geometry) { geometry in
        pool.parallelFor(runs) { chunk, range in
            for run in range {
                let sum = run == 0 ? dw.f32 : partials + (run - 1) * dw.count
                gc_grad_weight_rows(geometry, x.f32, dy.f32, sum, scratch + chunk * scratchSize, run * perRun,
                                    min(g.n, (run + 1) * perRun))
            }
        }
    }
    addPartials(dw, partials, chunks: runs)
    return true
}
