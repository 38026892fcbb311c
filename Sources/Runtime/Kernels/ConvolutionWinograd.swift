import CConvKernels
import GraphIR

// The `winograd` forms of conv2d (and fused_conv2d) and conv2d_grad_input over the plain
// [N, C, H, W] layout, for 3x3 stride-1 windows. They reuse the evaluation graph's Winograd
// F(4x4, 3x3) kernel (winograd_kernels.h): each image is reordered into the blocked layout
// (channels padded with zeros to whole blocks of 16) in its chunk's scratch, convolved there,
// and reordered back into the plain output while it is in cache. The weights are transformed
// on every call, as a training step changes them. The input gradient is the convolution of dy
// with the weights transposed and flipped, padded by 2 - padding (stride 1 only).

extension ConvGeometry {
    /// Whether the Winograd kernel computes this convolution forward: one group, a 3x3 window,
    /// unit stride and dilation, a non-empty output.
    var allowsWinogradForward: Bool {
        groups == 1 && kh == 3 && kw == 3 && sh == 1 && sw == 1 && dh == 1 && dw == 1 && ph >= 0 && pw >= 0
            && oh > 0 && ow > 0 && h > 0 && w > 0 && c > 0
    }

    /// Whether it computes the input gradient: as forward, with padding at most 2 (so the
    /// flipped kernel's, 2 - padding, is not negative).
    var allowsWinogradGradInput: Bool { allowsWinogradForward && ph <= 2 && pw <= 2 }

    /// Whether the tuner times Winograd for a convolution reading `inChannels` channels: only
    /// where at least half of the blocked scratch's channels are real (a layer over a few
    /// channels, like an image's first, would mostly multiply the zero padding).
    static func winogradWorthTiming(inChannels: Int) -> Bool {
        2 * inChannels > (inChannels + channelBlock - 1) / channelBlock * channelBlock
    }
}

/// `y = act(conv(x, weight) + bias)` by Winograd F(4x4, 3x3); false (nothing written) where
/// `allowsWinogradForward` does not hold.
func conv2dForwardWinograd(x: TensorView, weight: TensorView, bias: TensorView?, y: TensorView, _ g: ConvGeometry, relu: Bool,
                           workspace: Workspace, pool: WorkerPool) -> Bool {
    let outC = weight.shape[0]
    guard g.allowsWinogradForward, outC > 0 else { return false }
    let plan = WinogradPlainPlan(inChannels: g.c, height: g.h, width: g.w, outChannels: outC, outHeight: g.oh, outWidth: g.ow,
                                 padH: g.ph, padW: g.pw, relu: relu)
    plan.run(input: x.f32, output: y.f32, images: g.n, workspace: workspace, pool: pool) { padded, shift in
        for o in 0..<outC {
            (padded + o * plan.paddedIn * 9).update(from: weight.f32 + o * g.c * 9, count: g.c * 9)
        }
        if let bias { shift.update(from: bias.f32, count: outC) }
    }
    return true
}

/// `dx = conv(dy, flip(weightᵀ))` with padding 2 - padding, by Winograd F(4x4, 3x3); false
/// (nothing written) where `allowsWinogradGradInput` does not hold.
func conv2dGradInputWinograd(dy: TensorView, weight: TensorView, dx: TensorView, _ g: ConvGeometry, workspace: Workspace,
                             pool: WorkerPool) -> Bool {
    let outC = weight.shape[0]
    guard g.allowsWinogradGradInput, outC > 0 else { return false }
    let plan = WinogradPlainPlan(inChannels: outC, height: g.oh, width: g.ow, outChannels: g.c, outHeight: g.h, outWidth: g.w,
                                 padH: 2 - g.ph, padW: 2 - g.pw, relu: false)
    plan.run(input: dy.f32, output: dx.f32, images: g.n, workspace: workspace, pool: pool) { padded, _ in
        // padded[ch][o] = flip(weight[o][ch]): [C, O, 3, 3] with O padded to whole blocks.
        for o in 0..<outC {
            for ch in 0..<g.c {
                let src = weight.f32 + (o * g.c + ch) * 9, dst = padded + (ch * plan.paddedIn + o) * 9
                for t in 0..<9 { dst[8 - t] = src[t] }
            }
        }
    }
    return true
}

/// One plain-layout Winograd convolution: `inChannels` planes of height x width in,
/// `outChannels` planes out, channels padded to whole blocks of 16 in the blocked scratch.
struct WinogradPlainPlan {
    let inChannels: Int, outChannels: Int
    let inPlane: Int, outPlane: Int
    /// Channels rounded up to whole blocks.
    let paddedIn: Int, paddedOut: Int
    let geometry: gc_winograd_geometry

    init(inChannels: Int, height: Int, width: Int, outChannels: Int, outHeight: Int, outWidth: Int, padH: Int, padW: Int, relu: Bool) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        inPlane = height * width
        outPlane = outHeight * outWidth
        paddedIn = (inChannels + channelBlock - 1) / channelBlock * channelBlock
        paddedOut = (outChannels + channelBlock - 1) / channelBlock * channelBlock
        var g = gc_winograd_geometry(in_blocks: paddedIn / channelBlock, out_blocks: paddedOut / channelBlock, height: height,
                                     width: width, out_height: outHeight, out_width: outWidth, pad_h: padH, pad_w: padW,
                                     relu: relu ? 1 : 0, tiles_h: 0, tiles_w: 0, tile_block: 0, out_group: 0)
        // Images are what the pool splits: each image is one caller's, so its plan is one
        // thread's (the plan never changes a result).
        gc_winograd_plan(&g, 1)
        geometry = g
    }

    /// Runs the convolution image by image over the pool. `prepare(weight, shift)` writes the
    /// plain weights [paddedOut, paddedIn, 3, 3] (zero where it writes nothing) and the shift
    /// [paddedOut] (zero unless written; the scale is one); they are transformed once per call.
    func run(input: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, images: Int, workspace: Workspace, pool: WorkerPool,
             prepare: (_ weight: UnsafeMutablePointer<Float>, _ shift: UnsafeMutablePointer<Float>) -> Void) {
        var g = geometry
        let items = gc_winograd_items(&g), scratchCount = gc_winograd_scratch_floats(&g)
        let inImage = paddedIn * inPlane, outImage = paddedOut * outPlane
        // Every region a whole number of vectors, so each starts on a 64-byte line.
        func whole(_ n: Int) -> Int { (n + channelBlock - 1) / channelBlock * channelBlock }
        let perChunk = whole(inImage) + whole(outImage) + whole(scratchCount)
        let plainCount = paddedOut * paddedIn * 9, transformedCount = winogradPoints * paddedOut * paddedIn
        let head = whole(plainCount) + whole(transformedCount) + 2 * paddedOut
        let grain = WorkerPool.grain(itemCost: outChannels * outPlane * inChannels * 9)
        let chunks = pool.chunks(images, grain: grain)
        let start = workspace.floats(head + perChunk * chunks + channelBlock)
        let buffer = start + (channelBlock - Int(bitPattern: start) / MemoryLayout<Float>.stride % channelBlock) % channelBlock
        let plain = buffer, transformed = plain + whole(plainCount)
        let scale = transformed + whole(transformedCount), shift = scale + paddedOut
        fill(plain, plainCount, 0)
        fill(scale, paddedOut, 1)
        fill(shift, paddedOut, 0)
        prepare(plain, shift)
        gc_winograd_weight_transform(plain, transformed, paddedOut, paddedIn, 0, paddedOut / channelBlock)
        let transformedInput = UnsafePointer(transformed), scaleIn = UnsafePointer(scale), shiftIn = UnsafePointer(shift)
        pool.parallelFor(images, grain: grain) { chunk, range in
            let blockedIn = buffer + head + chunk * perChunk, blockedOut = blockedIn + whole(inImage)
            let scratch = blockedOut + whole(outImage)
            for image in range {
                toBlocked(input + image * inChannels * inPlane, blockedIn)
                withUnsafePointer(to: geometry) {
                    gc_winograd_conv2d($0, blockedIn, transformedInput, scaleIn, shiftIn, nil, blockedOut, scratch, 0, 0, items)
                }
                fromBlocked(blockedOut, output + image * outChannels * outPlane)
            }
        }
    }

    /// One image [inChannels, plane] into [paddedIn / 16, plane, 16], the padding channels zero.
    private func toBlocked(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        for first in stride(from: 0, to: inChannels, by: channelBlock) {
            gc_winograd_to_block(x + first * inPlane, y + first * inPlane, min(channelBlock, inChannels - first), inPlane)
        }
    }

    /// One image [paddedOut / 16, plane, 16] into [outChannels, plane], the padding channels dropped.
    private func fromBlocked(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
        for first in stride(from: 0, to: outChannels, by: channelBlock) {
            gc_winograd_from_block(x + first * outPlane, y + first * outPlane, min(channelBlock, outChannels - first), outPlane)
        }
    }
}
