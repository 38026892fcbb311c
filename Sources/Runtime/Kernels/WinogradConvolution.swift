import CConvKernels
import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/WinogradConvolution.swift: Swift splits the
// work over the pool; the transforms and batched products are C (winograd.c), AVX-512, AVX2
// or SSE2 code as the CPU reports (VectorISA).

extension WinogradWeightTransformOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let s = c.inputs[0].shape, w = c.inputs[0].f32, u = c.output.f32
        c.pool.parallelFor(s[0] / channelBlock, grain: max(1, elementwiseGrain / max(s[1] * winogradPoints * channelBlock, 1))) { _, r in
            gc_winograd_weight_transform(w, u, s[0], s[1], r.lowerBound, r.upperBound)
        }
    }
}

extension WinogradConv2dOp: KernelOp {
    public static func kernel(_ c: KernelContext) { winogradConv2d(c) }
}

/// Names of `gc_winograd_plan_variant`'s variants, by number (the default plan first).
let winogradPlanNames = ["plan", "tiles-double", "tiles-half", "one-group", "groups-double"]

/// The Winograd convolution's geometries the tuner times (`winograd-plan`): the default plan
/// and those of its neighbours that exist for this shape, by variant name.
func winogradPlans(_ base: gc_winograd_geometry, threads: Int) -> [(name: String, geometry: gc_winograd_geometry)] {
    var plans: [(name: String, geometry: gc_winograd_geometry)] = []
    for (i, name) in winogradPlanNames.enumerated() {
        var g = base
        if gc_winograd_plan_variant(&g, threads, Int32(i)) != 0 { plans.append((name, g)) }
    }
    return plans
}

/// Splits (image, tile block, output-block group) items over the pool, each chunk with its
/// own scratch (its items' transformed input and products) in the workspace after the
/// per-channel scale and shift. The split (tiles per item, output blocks per item) is the
/// plan the tuner chose for this shape, or `plan` (a `winogradPlanNames` entry) when given;
/// every plan gives the same bits.
func winogradConv2d(_ c: KernelContext, plan: String? = nil) {
    let x = c.inputs[0], u = c.inputs[1], y = c.output
    let padding = c.attributes[.padding] ?? [1, 1]
    let base = gc_winograd_geometry(in_blocks: x.shape[1], out_blocks: u.shape[1], height: x.shape[2], width: x.shape[3],
                                    out_height: y.shape[2], out_width: y.shape[3],
                                    pad_h: padding.count == 2 ? padding[0] : 1, pad_w: padding.count == 2 ? padding[1] : 1,
                                    relu: c.attributes[.activation] == "relu" ? 1 : 0, tiles_h: 0, tiles_w: 0, tile_block: 0, out_group: 0)
    var plans = winogradPlans(base, threads: c.pool.width)
    if let plan { plans = plans.filter { $0.name == plan } }
    if plans.isEmpty { plans = winogradPlans(base, threads: c.pool.width).prefix(1).map { $0 } }
    // An item is a tile block's products for a group of output blocks: always worth a chunk.
    let grain = 1
    var scratchMost = 0
    for p in plans {
        var g = p.geometry
        let items = x.shape[0] * gc_winograd_items(&g)
        scratchMost = max(scratchMost, c.pool.chunks(items, grain: grain) * gc_winograd_scratch_floats(&g))
    }
    let outChannels = u.shape[1] * channelBlock
    // Scratch rows are whole vectors: aligned to 64 bytes, none of their stores splits a cache line.
    let start = c.workspace.floats(2 * outChannels + scratchMost + channelBlock)
    let memory = start + (channelBlock - Int(bitPattern: start) / MemoryLayout<Float>.stride % channelBlock) % channelBlock
    spreadScaleShift(c, into: memory, outChannels: outChannels)
    let residual: UnsafePointer<Float>? = c.inputs.count > 4 ? UnsafePointer(c.inputs[4].f32) : nil
    func run(_ geometry: gc_winograd_geometry) {
        var g = geometry
        let perImage = gc_winograd_items(&g), scratch = gc_winograd_scratch_floats(&g)
        forEachImageItem(images: x.shape[0], perImage: perImage, grain: grain, pool: c.pool) { chunk, image, items in
            withUnsafePointer(to: geometry) {
                gc_winograd_conv2d($0, x.f32, u.f32, memory, memory + outChannels, residual, y.f32, memory + 2 * outChannels + chunk * scratch,
                                   image, items.lowerBound, items.upperBound)
            }
        }
    }
    guard plans.count > 1, c.pool.tuner.mode != .off, !c.pool.isRunningJob else { return run(plans[0].geometry) }
    c.pool.tuner.run(TuningKey(point: "winograd-plan", shapes: [x.shape, u.shape], detail: residual == nil ? "" : "res", threads: c.pool.width),
                     plans.map { p in KernelVariant(p.name) { run(p.geometry) } })
}
