import CConvKernels
import GraphIR

// The `direct` forms of conv2d (and fused_conv2d) and conv2d_grad_input over the plain
// [N, C, H, W] layout: the blocked direct kernel (conv_kernels.h) reading the plain input
// (its `in_block` 1), writing one image in the blocked layout to scratch, which is then
// reordered into the plain output while it is in cache. The input gradient is the
// convolution of dy with the weights transposed and flipped (stride 1 only).

extension ConvGeometry {
    /// Whether the blocked kernel computes this convolution forward: one group, no dilation,
    /// output channels a multiple of 16, a non-empty output.
    func allowsDirectForward(outChannels: Int) -> Bool {
        groups == 1 && dh == 1 && dw == 1 && outChannels % channelBlock == 0 && outChannels > 0 && ph >= 0 && pw >= 0
            && oh > 0 && ow > 0 && h > 0 && w > 0 && c > 0
    }

    /// Whether it computes the input gradient: one group, unit stride, no dilation, the input's
    /// channels a multiple of 16, padding within the kernel (so the flipped kernel's is not
    /// negative).
    var allowsDirectGradInput: Bool {
        groups == 1 && sh == 1 && sw == 1 && dh == 1 && dw == 1 && c % channelBlock == 0 && c > 0
            && ph >= 0 && pw >= 0 && ph <= kh - 1 && pw <= kw - 1 && oh > 0 && ow > 0 && h > 0 && w > 0
    }
}

/// `y = act(conv(x, weight) + bias)` by the blocked kernel; false (nothing written) where
/// `allowsDirectForward` does not hold.
func conv2dForwardDirect(x: TensorView, weight: TensorView, bias: TensorView?, y: TensorView, _ g: ConvGeometry, relu: Bool,
                         workspace: Workspace, pool: WorkerPool) -> Bool {
    let outC = weight.shape[0]
    guard g.allowsDirectForward(outChannels: outC) else { return false }
    let geometry = gc_conv_geometry(in_block: 1, in_blocks: g.c, height: g.h, width: g.w, out_blocks: outC / channelBlock,
                                    out_height: g.oh, out_width: g.ow, kernel_h: g.kh, kernel_w: g.kw, stride_h: g.sh,
                                    stride_w: g.sw, pad_h: g.ph, pad_w: g.pw, relu: relu ? 1 : 0)
    runBlockedPerImage(geometry, input: x.f32, inputImage: g.image, output: y.f32, outChannels: outC, outPlane: g.outPlane,
                       images: g.n, workspace: workspace, pool: pool) { packed, shift in
        gc_pack_conv_weight(weight.f32, packed, outC, g.c, g.kh, g.kw, 1, 0, outC / channelBlock)
        if let bias { shift.update(from: bias.f32, count: outC) } else { fill(shift, outC, 0) }
    }
    return true
}

/// `dx = conv(dy, flip(weightᵀ))` with padding kernel - 1 - padding, by the blocked kernel;
/// false (nothing written) where `allowsDirectGradInput` does not hold.
func conv2dGradInputDirect(dy: TensorView, weight: TensorView, dx: TensorView, _ g: ConvGeometry, workspace: Workspace,
                           pool: WorkerPool) -> Bool {
    guard g.allowsDirectGradInput else { return false }
    let outC = weight.shape[0], taps = g.kh * g.kw
    let geometry = gc_conv_geometry(in_block: 1, in_blocks: outC, height: g.oh, width: g.ow, out_blocks: g.c / channelBlock,
                                    out_height: g.h, out_width: g.w, kernel_h: g.kh, kernel_w: g.kw, stride_h: 1, stride_w: 1,
                                    pad_h: g.kh - 1 - g.ph, pad_w: g.kw - 1 - g.pw, relu: 0)
    runBlockedPerImage(geometry, input: dy.f32, inputImage: outC * g.outPlane, output: dx.f32, outChannels: g.c,
                       outPlane: g.inPlane, images: g.n, workspace: workspace, pool: pool,
                       extra: g.c * outC * taps) { packed, shift in
        // The flipped, transposed weights [C, O, kh, kw] go first in `extra`, just past the shift.
        let flipped = shift + g.c
        for o in 0..<outC {
            for ch in 0..<g.c {
                let src = weight.f32 + (o * g.c + ch) * taps, dst = flipped + (ch * outC + o) * taps
                for t in 0..<taps { dst[taps - 1 - t] = src[t] }
            }
        }
        gc_pack_conv_weight(flipped, packed, g.c, outC, g.kh, g.kw, 1, 0, g.c / channelBlock)
        fill(shift, g.c, 0)
    }
    return true
}

/// Runs the blocked kernel image by image over the pool: each chunk writes one image at a
/// time in the blocked layout to its scratch, then reorders it into `output` [N, outChannels,
/// outPlane]. A convolution padded along the width first copies the image with that padding
/// made explicit (so that every output position takes the kernel's unchecked full tiles, not
/// its one-at-a-time edge path); the padding along the height stays the kernel's, which skips
/// the kernel rows outside the image rather than multiplying zeros (an input gradient's
/// padding of kernel - 1 rows would otherwise be a third of its work). `prepare(packed,
/// shift)` fills the packed weights and the shift (the scale is one); `extra` floats after the
/// shift are the preparation's own.
private func runBlockedPerImage(_ geometry: gc_conv_geometry, input: UnsafeMutablePointer<Float>, inputImage: Int,
                                output: UnsafeMutablePointer<Float>, outChannels: Int, outPlane: Int, images: Int,
                                workspace: Workspace, pool: WorkerPool, extra: Int = 0,
                                prepare: (_ packed: UnsafeMutablePointer<Float>, _ shift: UnsafeMutablePointer<Float>) -> Void) {
    let padded = geometry.pad_w > 0
    var run = geometry
    if padded {
        run.width = (geometry.out_width - 1) * geometry.stride_w + geometry.kernel_w
        run.pad_w = 0
    }
    let paddedImage = padded ? Int(run.in_blocks * run.height * run.width) : 0
    let packedCount = outChannels * Int(geometry.in_blocks * geometry.kernel_h * geometry.kernel_w)
    let outImage = outChannels * outPlane, perChunk = outImage + paddedImage
    let inputCost = Int(geometry.in_blocks * geometry.kernel_h * geometry.kernel_w)
    let grain = WorkerPool.grain(itemCost: outImage * inputCost)
    let chunks = pool.chunks(images, grain: grain)
    let buffer = workspace.floats(packedCount + 2 * outChannels + extra + perChunk * chunks)
    let packed = buffer, scale = buffer + packedCount, shift = scale + outChannels, scratch = shift + outChannels + extra
    fill(scale, outChannels, 1)
    prepare(packed, shift)
    let items = withUnsafePointer(to: run) { gc_conv2d_blocked_items($0) }
    pool.parallelFor(images, grain: grain) { chunk, range in
        let mine = scratch + chunk * perChunk, paddedInput = mine + outImage
        for image in range {
            var source = input + image * inputImage
            if padded {
                gc_pad_planes(source, paddedInput, geometry.in_blocks, geometry.height, geometry.width, 0, geometry.pad_w,
                              run.height, run.width)
                source = paddedInput
            }
            withUnsafePointer(to: run) { gc_conv2d_blocked($0, source, packed, scale, shift, nil, mine, 0, 0, items) }
            gc_reorder_from_blocked(mine, output + image * outImage, outChannels, outPlane, 0, outChannels / channelBlock)
        }
    }
}
