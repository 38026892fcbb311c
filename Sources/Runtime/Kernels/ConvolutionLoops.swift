import CConvKernels
import GraphIR
// 2-D convolution and pooling over [N, C, H, W] as im2col + GEMM, and the window scans.

/// The sizes of one 2-D window op, read from its input and output shapes and attributes.
struct ConvGeometry {
    let n: Int, h: Int, w: Int
    /// Input channels of one group (all of them without groups).
    let c: Int
    let groups: Int
    let kh: Int, kw: Int
    let oh: Int, ow: Int
    let sh: Int, sw: Int
    /// Padding before each axis (top, left); the output shape accounts for the end padding.
    let ph: Int, pw: Int
    let dh: Int, dw: Int

    /// x is [N, C, H, W], y is [N, *, OH, OW], the kernel is kh x kw.
    init(x: [Int], y: [Int], kernel: (Int, Int), attributes: Attributes) {
        let window = Window2d(attributes)
        groups = max(attributes[.groups] ?? 1, 1)
        n = x[0]; c = x[1] / groups; h = x[2]; w = x[3]
        kh = kernel.0; kw = kernel.1
        oh = y[2]; ow = y[3]
        sh = window.stride[0]; sw = window.stride[1]
        ph = window.padBegin[0]; pw = window.padBegin[1]
        dh = window.dilation[0]; dw = window.dilation[1]
    }

    /// Rows of the column matrix: one per (channel of a group, kernel row, kernel column).
    var patch: Int { c * kh * kw }
    var outPlane: Int { oh * ow }
    var inPlane: Int { h * w }
    /// Elements of one input image (every group).
    var image: Int { groups * c * inPlane }
    /// A 1x1 window with unit stride and no padding (at either end: the output is the
    /// input's size): the image already is its column matrix.
    var isPointwise: Bool { kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && oh == h && ow == w }
    /// Images per pool chunk: enough that a chunk's GEMMs (outChannels x patch x outPlane
    /// each) are worth a dispatch.
    func imageGrain(outChannels: Int) -> Int { WorkerPool.grain(itemCost: outChannels * patch * outPlane) }

    /// The output positions `lo..<hi` along one axis whose input position
    /// `o*stride - pad + k` falls inside `0..<size`.
    @inline(__always)
    static func validRange(size: Int, out: Int, stride: Int, pad: Int, k: Int) -> (Int, Int) {
        // o*stride >= pad - k  and  o*stride <= size - 1 + pad - k
        let lo = max(0, ceilDiv(pad - k, stride))
        let hi = min(out, floorDiv(size - 1 + pad - k, stride) + 1)
        return (lo, max(lo, hi))
    }
}

@inline(__always) func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }
@inline(__always) func ceilDiv(_ a: Int, _ b: Int) -> Int { -floorDiv(-a, b) }

/// Unfolds one image (or group) [C, H, W] into columns [C*kh*kw, OH*OW]; padding reads as zero.
/// `ld`: floats from one row of columns to the next (nil: OH*OW; more when images sit side by side).
func im2col(_ x: UnsafePointer<Float>, _ g: ConvGeometry, into cols: UnsafeMutablePointer<Float>, ld: Int? = nil) {
    let ld = ld ?? g.outPlane
    var row = 0
    for ch in 0..<g.c {
        let plane = x + ch * g.inPlane
        for ki in 0..<g.kh {
            let ti = ki * g.dh
            let (ohLo, ohHi) = ConvGeometry.validRange(size: g.h, out: g.oh, stride: g.sh, pad: g.ph, k: ti)
            for kj in 0..<g.kw {
                let tj = kj * g.dw
                let (owLo, owHi) = ConvGeometry.validRange(size: g.w, out: g.ow, stride: g.sw, pad: g.pw, k: tj)
                let dst = cols + row * ld
                row += 1
                for o in 0..<g.oh {
                    let line = dst + o * g.ow
                    guard o >= ohLo && o < ohHi else { fill(line, g.ow, 0); continue }
                    let src = plane + (o * g.sh - g.ph + ti) * g.w - g.pw + tj
                    if owLo > 0 { fill(line, owLo, 0) }
                    if g.sw == 1 {
                        (line + owLo).update(from: src + owLo, count: owHi - owLo)
                    } else {
                        for p in owLo..<owHi { line[p] = src[p * g.sw] }
                    }
                    if owHi < g.ow { fill(line + owHi, g.ow - owHi, 0) }
                }
            }
        }
    }
}

/// Folds columns [C*kh*kw, OH*OW] back onto one image (or group) [C, H, W], adding overlaps (the
/// adjoint of im2col). The image must be zeroed first. `ld` as for `im2col`.
func col2im(_ cols: UnsafePointer<Float>, _ g: ConvGeometry, into x: UnsafeMutablePointer<Float>, ld: Int? = nil) {
    let ld = ld ?? g.outPlane
    var row = 0
    for ch in 0..<g.c {
        let plane = x + ch * g.inPlane
        for ki in 0..<g.kh {
            let ti = ki * g.dh
            let (ohLo, ohHi) = ConvGeometry.validRange(size: g.h, out: g.oh, stride: g.sh, pad: g.ph, k: ti)
            for kj in 0..<g.kw {
                let tj = kj * g.dw
                let (owLo, owHi) = ConvGeometry.validRange(size: g.w, out: g.ow, stride: g.sw, pad: g.pw, k: tj)
                let src = cols + row * ld
                row += 1
                for o in ohLo..<ohHi {
                    let line = src + o * g.ow
                    let dst = plane + (o * g.sh - g.ph + ti) * g.w - g.pw + tj
                    for p in owLo..<owHi { dst[p * g.sw] += line[p] }
                }
            }
        }
    }
}

/// `y[n] = act(W · im2col(x[n]) (+ bias))`, one GEMM per image and group, images split over the pool (each
/// chunk unfolds into its own slice of the workspace). (Unfolding several images side by
/// side into one wide GEMM was tried: on the CNN it halved the GEMMs' rate, as the wide column
/// matrix and the copy back to [N, O, H', W'] no longer fit in cache; bench/RESULTS.md.)
/// Or (`direct`) by the blocked direct kernel (`conv2dForwardDirect`), or (`rows`) by the
/// row-vectorised kernel for a few input channels (`conv2dForwardRows`), or (`winograd`, 3x3
/// stride-1 windows) by Winograd F(4x4, 3x3) (`conv2dForwardWinograd`): a tuned choice
/// (`conv2d-forward`) per shape among the forms that take the shape, unless the node's `form`
/// attribute decided it (`blocked-layout` writes `im2col` on the layers its chooser gave to
/// im2col). `--tune off` keeps im2col.
func conv2dForward(x: TensorView, weight: TensorView, bias: TensorView?, y: TensorView, attributes: Attributes,
                   workspace: Workspace, pool: WorkerPool = .serial, form: ConvolutionForm? = nil) {
    let wt = weight.shape
    let g = ConvGeometry(x: x.shape, y: y.shape, kernel: (wt[2], wt[3]), attributes: attributes)
    // fused_conv2d's activation, applied while the image's output is in cache.
    let relu = attributes[.activation] == "relu"
    func run(_ form: ConvolutionForm) {
        switch form {
        case .direct:
            if conv2dForwardDirect(x: x, weight: weight, bias: bias, y: y, g, relu: relu, workspace: workspace, pool: pool) { return }
        case .rows:
            if conv2dForwardRows(x: x, weight: weight, bias: bias, y: y, g, relu: relu, workspace: workspace, pool: pool) { return }
        case .winograd:
            if conv2dForwardWinograd(x: x, weight: weight, bias: bias, y: y, g, relu: relu, workspace: workspace, pool: pool) { return }
        case .im2col: break
        }
        conv2dForwardGEMM(x: x, weight: weight, bias: bias, y: y, g, relu: relu, workspace: workspace, pool: pool)
    }
    if let form { return run(form) }
    let forms = ConvolutionForm.allCases.filter {
        switch $0 {
        case .im2col: true
        case .direct: g.allowsDirectForward(outChannels: wt[0])
        case .rows: g.allowsRowsForward
        case .winograd: g.allowsWinogradForward && ConvGeometry.winogradWorthTiming(inChannels: g.c)
        }
    }
    guard forms.count > 1, pool.tuner.mode != .off, !pool.isRunningJob else { return run(.im2col) }
    let key = TuningKey(point: "conv2d-forward", shapes: [x.shape, wt],
                        detail: g.tuningDetail + (bias == nil ? "" : "-bias") + (relu ? "-relu" : ""), threads: pool.width)
    pool.tuner.run(key, forms.map { form in KernelVariant(form.rawValue) { run(form) } })
}

private func conv2dForwardGEMM(x: TensorView, weight: TensorView, bias: TensorView?, y: TensorView, _ g: ConvGeometry,
                               relu: Bool, workspace: Workspace, pool: WorkerPool) {
    let outC = weight.shape[0], groupC = outC / g.groups
    let grain = g.imageGrain(outChannels: outC)
    let colSize = g.patch * g.outPlane
    let cols = g.isPointwise ? nil : workspace.floats(colSize * pool.chunks(g.n, grain: grain))
    pool.parallelFor(g.n, grain: grain) { chunk, images in
        let mine = cols.map { $0 + chunk * colSize }
        for img in images {
            let out = y.f32 + img * outC * g.outPlane
            var beta: Float = 0
            if let b = bias {
                for o in 0..<outC { fill(out + o * g.outPlane, g.outPlane, b.f32[o]) }
                beta = 1
            }
            for group in 0..<g.groups {
                let xin = x.f32 + img * g.image + group * g.c * g.inPlane
                let columns: UnsafePointer<Float>
                if let mine { im2col(xin, g, into: mine); columns = UnsafePointer(mine) } else { columns = UnsafePointer(xin) }
                sgemm(m: groupC, n: g.outPlane, k: g.patch, a: weight.f32 + group * groupC * g.patch, lda: g.patch, b: columns,
                      ldb: g.outPlane, beta: beta, c: out + group * groupC * g.outPlane, ldc: g.outPlane)
            }
            if relu { reluInPlace(out, outC * g.outPlane) }
        }
    }
}

/// `dx[n] = col2im(Wᵀ · dy[n])` per group, images split over the pool: one GEMM per image, or
/// (`stacked`) one per run of images with their dy rows copied side by side, so Wᵀ is packed
/// once for the run. A tuned choice (`conv2d-grad-input`) per shape.
func conv2dGradInput(dy: TensorView, weight: TensorView, dx: TensorView, attributes: Attributes, workspace: Workspace,
                     pool: WorkerPool = .serial, form: ConvGradInputForm? = nil) {
    let wt = weight.shape
    let g = ConvGeometry(x: dx.shape, y: dy.shape, kernel: (wt[2], wt[3]), attributes: attributes)
    guard g.groups == 1, !g.isPointwise, g.n > 1 else {
        return conv2dGradInput(dy: dy, weight: weight, dx: dx, g, workspace: workspace, pool: pool, form: .perImage)
    }
    if let form { return conv2dGradInput(dy: dy, weight: weight, dx: dx, g, workspace: workspace, pool: pool, form: form) }
    guard pool.tuner.mode != .off, !pool.isRunningJob else {
        return conv2dGradInput(dy: dy, weight: weight, dx: dx, g, workspace: workspace, pool: pool, form: .perImage)
    }
    let key = TuningKey(point: "conv2d-grad-input", shapes: [dy.shape, wt], detail: g.tuningDetail, threads: pool.width)
    // Only the forms that take the shape: `direct` or `winograd` elsewhere would time per-image twice.
    let forms = ConvGradInputForm.allCases.filter {
        switch $0 {
        case .perImage, .stacked: true
        case .direct: g.allowsDirectGradInput
        case .winograd: g.allowsWinogradGradInput && ConvGeometry.winogradWorthTiming(inChannels: wt[0])
        }
    }
    pool.tuner.run(key, forms.map { form in
        KernelVariant(form.rawValue) { conv2dGradInput(dy: dy, weight: weight, dx: dx, g, workspace: workspace, pool: pool, form: form) }
    })
}

private func conv2dGradInput(dy: TensorView, weight: TensorView, dx: TensorView, _ g: ConvGeometry, workspace: Workspace,
                             pool: WorkerPool, form: ConvGradInputForm) {
    if form == .direct, conv2dGradInputDirect(dy: dy, weight: weight, dx: dx, g, workspace: workspace, pool: pool) { return }
    if form == .winograd, conv2dGradInputWinograd(dy: dy, weight: weight, dx: dx, g, workspace: workspace, pool: pool) { return }
    let outC = weight.shape[0], groupC = outC / g.groups
    let grain = g.imageGrain(outChannels: outC)
    if form == .stacked {
        let stack = ConvGradWeightForm.stackedImages(g)
        let size = (g.patch + outC) * g.outPlane * stack
        let scratch = workspace.floats(size * pool.chunks(g.n, grain: grain))
        pool.parallelFor(g.n, grain: grain) { chunk, images in
            let cols = scratch + chunk * size, rows = cols + g.patch * g.outPlane * stack
            for first in stride(from: images.lowerBound, to: images.upperBound, by: stack) {
                let count = min(stack, images.upperBound - first), ld = count * g.outPlane
                for i in 0..<count {
                    let grad = dy.f32 + (first + i) * outC * g.outPlane
                    for o in 0..<outC { (rows + o * ld + i * g.outPlane).update(from: grad + o * g.outPlane, count: g.outPlane) }
                }
                sgemm(transA: true, m: g.patch, n: ld, k: outC, a: weight.f32, lda: g.patch, b: rows, ldb: ld, c: cols, ldc: ld)
                for i in 0..<count {
                    let dst = dx.f32 + (first + i) * g.image
                    fill(dst, g.image, 0)
                    col2im(cols + i * g.outPlane, g, into: dst, ld: ld)
                }
            }
        }
        return
    }
    let colSize = g.patch * g.outPlane
    let cols = g.isPointwise ? nil : workspace.floats(colSize * pool.chunks(g.n, grain: grain))
    pool.parallelFor(g.n, grain: grain) { chunk, images in
        let mine = cols.map { $0 + chunk * colSize }
        for img in images {
            if mine != nil { fill(dx.f32 + img * g.image, g.image, 0) }
            for group in 0..<g.groups {
                let grad = dy.f32 + (img * outC + group * groupC) * g.outPlane
                let dst = dx.f32 + img * g.image + group * g.c * g.inPlane
                let w = weight.f32 + group * groupC * g.patch
                if let mine {
                    sgemm(transA: true, m: g.patch, n: g.outPlane, k: groupC, a: w, lda: g.patch, b: grad, ldb: g.outPlane,
                          c: mine, ldc: g.outPlane)
                    col2im(mine, g, into: dst)
                } else {
                    sgemm(transA: true, m: g.patch, n: g.outPlane, k: groupC, a: w, lda: g.patch, b: grad, ldb: g.outPlane,
                          c: dst, ldc: g.outPlane)
                }
            }
        }
    }
}

/// How `conv2dGradWeight` forms its sums: one GEMM per image (`perImage`, the default), or
/// one per run of images (`stacked`): their columns side by side and their dy rows copied
/// side by side, so the GEMM sums over `images x OH*OW` at once (long sums run nearer the
/// GEMM's peak than many short ones); or (`direct`) no GEMM: the C kernel of
/// conv_grad_kernels.h sums in registers over fixed groups of images
/// (`conv2dGradWeightDirect`); or (`rows`, a few input channels) the row-vectorised kernel of
/// conv_rows_kernels.h (`conv2dGradWeightRows`); or (`winograd`, 3x3 stride 1) Winograd's
/// F(3x3, 4x4) of winograd_grad_weight_kernels.h (`conv2dGradWeightWinograd`). A tuned choice
/// (`conv2d-grad-weight`) per shape among the forms that take it.
enum ConvGradWeightForm: String, CaseIterable {
    case perImage = "per-image", stacked, direct, rows, winograd

    /// Images per stacked GEMM: their columns fill about 1 MB (a second-level cache).
    static func stackedImages(_ g: ConvGeometry) -> Int { max(1, (1 << 18) / max(g.patch * g.outPlane, 1)) }
}

/// How `conv2dGradInput` forms its products: one GEMM per image (`perImage`, the default), or
/// one per run of images (`stacked`, as for the weight gradient), or (`direct`) the blocked
/// direct kernel over dy with the weights flipped (`conv2dGradInputDirect`; shapes it does not
/// take run per image), or (`winograd`) Winograd F(4x4, 3x3) over dy with the weights flipped
/// (`conv2dGradInputWinograd`; 3x3 stride-1 windows, others run per image). A tuned choice
/// (`conv2d-grad-input`) per shape.
enum ConvGradInputForm: String, CaseIterable {
    case perImage = "per-image", stacked, direct, winograd
}

/// `dW = Σₙ dy[n] · im2col(x[n])ᵀ` per group. Images are split over the pool; chunk 0 sums into dW,
/// the others into partial sums in the workspace, which are then added to dW in chunk order
/// (so the result does not depend on which thread finished first). `form` nil: the tuner's
/// choice for this shape (stacking needs one group and a window to unfold).
func conv2dGradWeight(dy: TensorView, x: TensorView, dw: TensorView, attributes: Attributes, workspace: Workspace,
                      pool: WorkerPool = .serial, form: ConvGradWeightForm? = nil) {
    let wt = dw.shape
    let g = ConvGeometry(x: x.shape, y: dy.shape, kernel: (wt[2], wt[3]), attributes: attributes)
    guard g.groups == 1, !g.isPointwise, g.n > 1 else {
        return conv2dGradWeight(dy: dy, x: x, dw: dw, g, workspace: workspace, pool: pool, form: .perImage)
    }
    if let form { return conv2dGradWeight(dy: dy, x: x, dw: dw, g, workspace: workspace, pool: pool, form: form) }
    let key = TuningKey(point: "conv2d-grad-weight", shapes: [dy.shape, x.shape], detail: g.tuningDetail, threads: pool.width)
    guard pool.tuner.mode != .off, !pool.isRunningJob else {
        return conv2dGradWeight(dy: dy, x: x, dw: dw, g, workspace: workspace, pool: pool, form: .perImage)
    }
    let forms = ConvGradWeightForm.allCases.filter {
        switch $0 {
        case .perImage, .stacked: true
        case .direct: g.allowsDirectGradWeight
        case .rows: g.allowsRowsGradWeight
        case .winograd: g.allowsWinogradGradWeight(outChannels: dw.shape[0])
        }
    }
    pool.tuner.run(key, forms.map { form in
        KernelVariant(form.rawValue) { conv2dGradWeight(dy: dy, x: x, dw: dw, g, workspace: workspace, pool: pool, form: form) }
    })
}

private func conv2dGradWeight(dy: TensorView, x: TensorView, dw: TensorView, _ g: ConvGeometry, workspace: Workspace,
                              pool: WorkerPool, form: ConvGradWeightForm) {
    if form == .direct, conv2dGradWeightDirect(dy: dy, x: x, dw: dw, g, workspace: workspace, pool: pool) { return }
    if form == .rows, conv2dGradWeightRows(dy: dy, x: x, dw: dw, g, workspace: workspace, pool: pool) { return }
    if form == .winograd, conv2dGradWeightWinograd(dy: dy, x: x, dw: dw, g, workspace: workspace, pool: pool) { return }
    let outC = dw.shape[0], groupC = outC / g.groups
    let grain = g.imageGrain(outChannels: outC)
    let chunks = pool.chunks(g.n, grain: grain)
    let stack = form == .stacked ? ConvGradWeightForm.stackedImages(g) : 1
    // Per chunk: the columns of `stack` images, and (stacked) their dy rows side by side.
    let colSize = g.isPointwise ? 0 : g.patch * g.outPlane * stack + (stack > 1 ? outC * g.outPlane * stack : 0)
    let scratch = workspace.floats(max(colSize * chunks + dw.count * (chunks - 1), 1))
    let partials = scratch + colSize * chunks
    guard g.n > 0 else { fill(dw.f32, dw.count, 0); return }
    if stack > 1 {
        pool.parallelFor(g.n, grain: grain) { chunk, images in
            let cols = scratch + chunk * colSize, rows = cols + g.patch * g.outPlane * stack
            let sum = chunk == 0 ? dw.f32 : partials + (chunk - 1) * dw.count
            for first in stride(from: images.lowerBound, to: images.upperBound, by: stack) {
                let count = min(stack, images.upperBound - first), ld = count * g.outPlane
                for i in 0..<count {
                    im2col(x.f32 + (first + i) * g.image, g, into: cols + i * g.outPlane, ld: ld)
                    let grad = dy.f32 + (first + i) * outC * g.outPlane
                    for o in 0..<outC { (rows + o * ld + i * g.outPlane).update(from: grad + o * g.outPlane, count: g.outPlane) }
                }
                sgemm(transB: true, m: outC, n: g.patch, k: ld, a: rows, lda: ld, b: cols, ldb: ld,
                      beta: first == images.lowerBound ? 0 : 1, c: sum, ldc: g.patch)
            }
        }
        addPartials(dw, partials, chunks: chunks)
        return
    }
    pool.parallelFor(g.n, grain: grain) { chunk, images in
        let cols = scratch + chunk * colSize
        let sum = chunk == 0 ? dw.f32 : partials + (chunk - 1) * dw.count
        for img in images {
            for group in 0..<g.groups {
                let grad = dy.f32 + (img * outC + group * groupC) * g.outPlane
                let xin = x.f32 + img * g.image + group * g.c * g.inPlane
                let columns: UnsafePointer<Float>
                if g.isPointwise { columns = UnsafePointer(xin) } else { im2col(xin, g, into: cols); columns = UnsafePointer(cols) }
                sgemm(transB: true, m: groupC, n: g.patch, k: g.outPlane, a: grad, lda: g.outPlane, b: columns, ldb: g.outPlane,
                      beta: img == images.lowerBound ? 0 : 1, c: sum + group * groupC * g.patch, ldc: g.patch)
            }
        }
    }
    addPartials(dw, partials, chunks: chunks)
}

/// Adds the partial sums of chunks 1..<chunks to dW, in chunk order.
func addPartials(_ dw: TensorView, _ partials: UnsafeMutablePointer<Float>, chunks: Int) {
    for chunk in 1..<max(chunks, 1) {
        let part = partials + (chunk - 1) * dw.count
        for i in 0..<dw.count { dw.f32[i] += part[i] }
    }
}

/// The first position of each window's maximum, scanning rows then columns; padding never
/// wins. NaN counts as largest, as in PyTorch. Returns -1 for a window entirely in padding.
@inline(__always)
func windowArgmax(_ plane: UnsafePointer<Float>, _ g: ConvGeometry, _ oi: Int, _ oj: Int) -> Int {
    let i0 = oi * g.sh - g.ph, j0 = oj * g.sw - g.pw
    if g.dh == 1 && g.dw == 1 && i0 >= 0 && j0 >= 0 && i0 + g.kh <= g.h && j0 + g.kw <= g.w {
        // Window inside the image (always, without padding): no clipping.
        var at = i0 * g.w + j0
        var best = plane[at]
        if best.isNaN { return at }
        for i in 0..<g.kh {
            let row = i0 * g.w + i * g.w + j0
            for j in 0..<g.kw {
                let v = plane[row + j]
                if v > best { best = v; at = row + j } else if v.isNaN { return row + j }
            }
        }
        return at
    }
    // Clipped to the image; taps `dilation` apart, so the first one inside is rounded up.
    var best = -Float.infinity, at = -1
    let iFirst = i0 + max(0, ceilDiv(-i0, g.dh)) * g.dh, jFirst = j0 + max(0, ceilDiv(-j0, g.dw)) * g.dw
    for i in stride(from: iFirst, to: min(i0 + (g.kh - 1) * g.dh + 1, g.h), by: g.dh) {
        for j in stride(from: jFirst, to: min(j0 + (g.kw - 1) * g.dw + 1, g.w), by: g.dw) {
            let v = plane[i * g.w + j]
            if at < 0 || v > best || v.isNaN { best = v; at = i * g.w + j; if v.isNaN { return at } }
        }
    }
    return at
}

/// The CNN's pooling: 2x2 windows, stride 2, no padding (every window inside the image).
extension ConvGeometry {
    var isPairPool: Bool {
        kh == 2 && kw == 2 && sh == 2 && sw == 2 && ph == 0 && pw == 0 && dh == 1 && dw == 1 && 2 * oh <= h && 2 * ow <= w
    }
}

/// Elements per chunk tried for the pooling loops, the fixed default (`elementwiseGrain`)
/// first. Chunks are whole planes, so the grain sets how many planes a chunk takes.
let poolingGrainCandidates = [elementwiseGrain, WorkerPool.parallelMinimumWork, WorkerPool.parallelMinimumWork / 4,
                              16 * WorkerPool.parallelMinimumWork]

extension ConvGeometry {
    /// The window as a tuning key's detail: `k3x3s2x2p1x1` (plus `d2x2` when dilated).
    var tuningDetail: String {
        "k\(kh)x\(kw)s\(sh)x\(sw)p\(ph)x\(pw)" + (dh != 1 || dw != 1 ? "d\(dh)x\(dw)" : "")
    }
}

/// Runs `body` over `planes` planes of `planeElements` elements each, split over the pool in
/// chunks of at least `grain` elements; with `grain` nil, of the grain the pool's tuner
/// chose for this loop and shape (`point`, e.g. `maxpool-grain`), timing the candidates on
/// first use. Every grain gives the same result: windows never cross planes.
func splitPlanes(_ pool: WorkerPool, planes: Int, planeElements: Int, grain: Int?, key: @autoclosure () -> TuningKey,
                 _ body: (Range<Int>) -> Void) {
    withoutActuallyEscaping(body) { body in
        func run(_ grain: Int) {
            pool.parallelFor(planes, grain: max(1, grain / max(planeElements, 1))) { _, r in body(r) }
        }
        if let grain { return run(grain) }
        guard pool.width > 1, pool.tuner.mode != .off, !pool.isRunningJob else { return run(elementwiseGrain) }
        // Grains that cut the planes into the same chunks are one variant.
        var chunkCounts = Set<Int>()
        var variants: [KernelVariant] = []
        for g in poolingGrainCandidates where chunkCounts.insert(pool.chunks(planes, grain: max(1, g / max(planeElements, 1)))).inserted {
            variants.append(KernelVariant(String(g)) { run(g) })
        }
        pool.tuner.run(key(), variants)
    }
}

/// Max pooling, planes ([N*C]) split over the pool (`grain`: see `splitPlanes`).
func maxpool2dForward(x: TensorView, y: TensorView, attributes: Attributes, pool: WorkerPool = .serial, grain: Int? = nil) {
    let k = attributes[.kernelSize] ?? [1, 1]
    let g = ConvGeometry(x: x.shape, y: y.shape, kernel: (k.count == 2 ? k[0] : 1, k.count == 2 ? k[1] : 1), attributes: attributes)
    splitPlanes(pool, planes: g.n * g.c, planeElements: g.inPlane, grain: grain,
                key: TuningKey(point: "maxpool-grain", shapes: [x.shape], detail: g.tuningDetail, threads: pool.width)) { planes in
        maxpool2dForward(planes, x: x, y: y, g)
    }
}

private func maxpool2dForward(_ planes: Range<Int>, x: TensorView, y: TensorView, _ g: ConvGeometry) {
    if g.isPairPool {
        // Vector code in C (CConvKernels/training_kernels.c): a NaN wins, as PyTorch propagates it.
        gc_maxpool2x2_forward(x.f32, y.f32, g.h, g.w, g.oh, g.ow, planes.lowerBound, planes.upperBound)
        return
    }
    for p in planes {
        let plane = UnsafePointer(x.f32 + p * g.inPlane)
        let out = y.f32 + p * g.outPlane
        for oi in 0..<g.oh {
            for oj in 0..<g.ow {
                let at = windowArgmax(plane, g, oi, oj)
                out[oi * g.ow + oj] = at >= 0 ? plane[at] : -Float.infinity
            }
        }
    }
}

/// Routes each dy to its window's (recomputed) maximum; overlapping windows add. With the
/// relu activation a dy whose maximum is not above 0 is dropped (relu_grad folded in). Planes
/// are split over the pool (windows never cross planes, so chunks write disjoint memory;
/// `grain`: see `splitPlanes`).
func maxpool2dBackward(dy: TensorView, x: TensorView, dx: TensorView, attributes: Attributes, pool: WorkerPool = .serial,
                       grain: Int? = nil) {
    let k = attributes[.kernelSize] ?? [1, 1]
    let g = ConvGeometry(x: x.shape, y: dy.shape, kernel: (k.count == 2 ? k[0] : 1, k.count == 2 ? k[1] : 1), attributes: attributes)
    let relu = attributes[.activation] == "relu"
    splitPlanes(pool, planes: g.n * g.c, planeElements: g.inPlane, grain: grain,
                key: TuningKey(point: "maxpool-backward-grain", shapes: [x.shape], detail: g.tuningDetail, threads: pool.width)) { planes in
        maxpool2dBackward(planes, dy: dy, x: x, dx: dx, g, relu: relu)
    }
}

private func maxpool2dBackward(_ planes: Range<Int>, dy: TensorView, x: TensorView, dx: TensorView, _ g: ConvGeometry,
                               relu: Bool) {
    if g.isPairPool {
        // Vector code in C (CConvKernels/training_kernels.c); it writes every element of dx.
        gc_maxpool2x2_backward(x.f32, dy.f32, dx.f32, g.h, g.w, g.oh, g.ow, relu ? 1 : 0, planes.lowerBound, planes.upperBound)
        return
    }
    fill(dx.f32 + planes.lowerBound * g.inPlane, planes.count * g.inPlane, 0)
    for p in planes {
        let plane = UnsafePointer(x.f32 + p * g.inPlane)
        let grad = dy.f32 + p * g.outPlane
        let dst = dx.f32 + p * g.inPlane
        for oi in 0..<g.oh {
            for oj in 0..<g.ow {
                let at = windowArgmax(plane, g, oi, oj)
                if at >= 0 && (!relu || plane[at] > 0) { dst[at] += grad[oi * g.ow + oj] }
            }
        }
    }
}

/// Inference batch norm per channel (axis 1) of [N, C, ...].
func batchNormInference(_ c: KernelContext) {
    let x = c.inputs[0]
    let eps = Float(c.attributes[.eps] ?? 1e-5)
    let channels = x.shape.count > 1 ? x.shape[1] : 1
    let split = AxisSplit(x.shape, axis: 1)
    let gamma = c.inputs[1].f32, beta = c.inputs[2].f32, mean = c.inputs[3].f32, variance = c.inputs[4].f32
    let px = x.f32, py = c.output.f32
    for n in 0..<split.outer {
        for ch in 0..<channels {
            let scale = gamma[ch] / (variance[ch] + eps).squareRoot()
            let shift = beta[ch] - mean[ch] * scale
            let base = (n * channels + ch) * split.inner
            for i in 0..<split.inner { py[base + i] = px[base + i] * scale + shift }
        }
    }
}
