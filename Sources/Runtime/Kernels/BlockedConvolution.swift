import CConvKernels
import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/BlockedConvolution.swift: Swift splits the
// work over the pool; the loops are C (Sources/CConvKernels), which picks AVX-512, AVX2 or
// SSE2 code by what the CPU reports.

extension ReorderToBlockedOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        reorderBlocked(c.inputs[0].f32, c.output.f32, shape: c.inputs[0].shape, toBlocked: true, pool: c.pool)
    }
}

extension ReorderFromBlockedOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        reorderBlocked(c.inputs[0].f32, c.output.f32, shape: c.output.shape, toBlocked: false, pool: c.pool)
    }
}

/// [N, C, H, W] (`shape`) to [N, C/16, H, W, 16] or back, planes of 16 channels split over
/// the pool in chunks of `grain` elements (nil: as the tuner chose, `reorder-grain`). Every
/// grain gives the same result: each plane is copied alone.
func reorderBlocked(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, shape s: [Int], toBlocked: Bool,
                    pool: WorkerPool, grain: Int? = nil) {
    let planes = s[0] * s[1] / channelBlock, plane = s[2] * s[3]
    splitPlanes(pool, planes: planes, planeElements: plane * channelBlock, grain: grain,
                key: TuningKey(point: "reorder-grain", shapes: [s], detail: toBlocked ? "to-blocked" : "from-blocked", threads: pool.width)) { r in
        if toBlocked {
            gc_reorder_to_blocked(x, y, s[1], plane, r.lowerBound, r.upperBound)
        } else {
            gc_reorder_from_blocked(x, y, s[1], plane, r.lowerBound, r.upperBound)
        }
    }
}

extension PackConvWeightOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let s = c.inputs[0].shape, w = c.inputs[0].f32, packed = c.output.f32
        let inBlock = c.output.shape[4], blocks = s[0] / channelBlock
        c.pool.parallelFor(blocks, grain: max(1, elementwiseGrain / max(c.inputs[0].count / max(blocks, 1), 1))) { _, r in
            gc_pack_conv_weight(w, packed, s[0], s[1], s[2], s[3], inBlock, r.lowerBound, r.upperBound)
        }
    }
}

extension BlockedConv2dOp: KernelOp {
    public static func kernel(_ c: KernelContext) { blockedConv2d(c) }
}

extension BlockedMaxpool2dOp: KernelOp {
    public static func kernel(_ c: KernelContext) { blockedMaxpool2d(x: c.inputs[0], y: c.output, attributes: c.attributes, pool: c.pool) }
}

/// Max pooling over the blocked layout, planes of 16 channels split over the pool in chunks
/// of `grain` elements (nil: as the tuner chose, `blocked-maxpool-grain`). Every grain gives
/// the same result: windows never cross planes.
func blockedMaxpool2d(x: TensorView, y: TensorView, attributes: Attributes, pool: WorkerPool, grain: Int? = nil) {
    let k = attributes[.kernelSize] ?? [1, 1]
    let g = ConvGeometry(x: Array(x.shape.prefix(4)), y: Array(y.shape.prefix(4)), kernel: (k.count == 2 ? k[0] : 1, k.count == 2 ? k[1] : 1),
                         attributes: attributes)
    splitPlanes(pool, planes: g.n * g.c, planeElements: g.inPlane * channelBlock, grain: grain,
                key: TuningKey(point: "blocked-maxpool-grain", shapes: [x.shape], detail: g.tuningDetail, threads: pool.width)) { r in
        gc_maxpool2d_blocked(x.f32, y.f32, g.h, g.w, g.oh, g.ow, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, r.lowerBound, r.upperBound)
    }
}

/// The C kernels' geometry of a blocked convolution from its operands' shapes.
func blockedGeometry(x: [Int], packedWeight w: [Int], y: [Int], attributes: Attributes) -> gc_conv_geometry {
    let stride = attributes[.stride] ?? [1, 1], padding = attributes[.padding] ?? [0, 0]
    return gc_conv_geometry(in_block: w[4], in_blocks: w[1], height: x[2], width: x[3], out_blocks: w[0],
                            out_height: y[2], out_width: y[3], kernel_h: w[2], kernel_w: w[3],
                            stride_h: stride.count == 2 ? stride[0] : 1, stride_w: stride.count == 2 ? stride[1] : 1,
                            pad_h: padding.count == 2 ? padding[0] : 0, pad_w: padding.count == 2 ? padding[1] : 0,
                            relu: attributes[.activation] == "relu" ? 1 : 0)
}

/// Splits (image, output-block group, output row) items over the pool; scalar scales and
/// shifts are spread to one per output channel first.
func blockedConv2d(_ c: KernelContext) {
    let x = c.inputs[0], w = c.inputs[1], y = c.output
    let g = blockedGeometry(x: x.shape, packedWeight: w.shape, y: y.shape, attributes: c.attributes)
    let (scale, shift) = blockedScaleShift(c)
    let residual: UnsafePointer<Float>? = c.inputs.count > 4 ? UnsafePointer(c.inputs[4].f32) : nil
    let perImage = withUnsafePointer(to: g) { gc_conv2d_blocked_items($0) }
    let itemCost = w.count / max(w.shape[0], 1) * channelBlock * y.shape[3]
    forEachImageItem(images: x.shape[0], perImage: perImage, grain: WorkerPool.grain(itemCost: itemCost), pool: c.pool) { _, image, items in
        withUnsafePointer(to: g) {
            gc_conv2d_blocked($0, x.f32, w.f32, scale, shift, residual, y.f32, image, items.lowerBound, items.upperBound)
        }
    }
}

/// A blocked convolution's scale and shift (inputs 2 and 3, each [O] or a scalar) as [O]
/// each, in the kernel's workspace: the C kernels read one per output channel.
func blockedScaleShift(_ c: KernelContext) -> (scale: UnsafePointer<Float>, shift: UnsafePointer<Float>) {
    let outChannels = c.inputs[1].shape[0] * channelBlock
    let spread = c.workspace.floats(2 * outChannels)
    spreadScaleShift(c, into: spread, outChannels: outChannels)
    return (UnsafePointer(spread), UnsafePointer(spread + outChannels))
}

/// Inputs 2 and 3 (scale and shift, each [outChannels] or a scalar) into `dst` as
/// 2 x [outChannels].
func spreadScaleShift(_ c: KernelContext, into dst: UnsafeMutablePointer<Float>, outChannels: Int) {
    for (i, t) in [c.inputs[2], c.inputs[3]].enumerated() {
        let row = dst + i * outChannels
        if t.count == outChannels { row.update(from: t.f32, count: outChannels) } else { fill(row, outChannels, t.f32[0]) }
    }
}

/// Splits `images` x `perImage` work items over the pool in chunks of at least `grain`,
/// calling `body(chunk, image, items)` for runs of one image's items: the blocked and
/// Winograd convolutions' C kernels take one image at a time, and each item writes output
/// of its own. `chunk` is the pool's chunk index (for per-chunk scratch).
func forEachImageItem(images: Int, perImage: Int, grain: Int, pool: WorkerPool,
                      _ body: (_ chunk: Int, _ image: Int, _ items: Range<Int>) -> Void) {
    guard perImage > 0 else { return }
    pool.parallelFor(images * perImage, grain: grain) { chunk, r in
        var item = r.lowerBound
        while item < r.upperBound {
            let image = item / perImage, first = item % perImage
            let last = min(perImage, first + r.upperBound - item)
            body(chunk, image, first..<last)
            item += last - first
        }
    }
}

/// The instruction set the blocked-layout kernels run with: the best the CPU reports, unless
/// limited (to test every path on one machine, or to compare them).
public enum VectorISA: Int32, CustomStringConvertible, CaseIterable, Sendable {
    case sse2 = 1, avx2 = 2, avx512 = 3

    public static var current: VectorISA { VectorISA(rawValue: gc_conv_isa()) ?? .sse2 }

    /// The best the CPU reports, whatever the limit.
    public static var best: VectorISA { VectorISA(rawValue: gc_conv_best_isa()) ?? .sse2 }

    /// What is wrong with `--isa flag` on a CPU whose best is `best` (nil: nothing): a name
    /// other than the three, or an instruction set above the best (its kernels would fault).
    public static func problem(withFlag flag: String, best: VectorISA = .best) -> String? {
        guard let wanted = VectorISA(flag: flag) else { return "--isa must be 'avx512', 'avx2' or 'sse2', got '\(flag)'" }
        return wanted.rawValue <= best.rawValue ? nil : "--isa \(flag): this CPU's best is \(best)"
    }

    /// Uses at most `isa` (never more than the CPU has; nil: the best it has); returns what is used.
    /// Set it before making the tuner (`Tuner.standard`): a tuner keeps the machine identity,
    /// instruction set included, it was made with, and would file later choices under it.
    @discardableResult
    public static func limit(to isa: VectorISA?) -> VectorISA {
        VectorISA(rawValue: gc_conv_set_isa(isa?.rawValue ?? 0)) ?? .sse2
    }

    /// The name `--isa` takes: `avx512`, `avx2` or `sse2`.
    public var flag: String {
        switch self {
        case .sse2: return "sse2"
        case .avx2: return "avx2"
        case .avx512: return "avx512"
        }
    }

    public init?(flag: String) {
        guard let isa = VectorISA.allCases.first(where: { $0.flag == flag }) else { return nil }
        self = isa
    }

    public var description: String {
        switch self {
        case .sse2: return "SSE2"
        case .avx2: return "AVX2+FMA"
        case .avx512: return "AVX-512"
        }
    }
}
