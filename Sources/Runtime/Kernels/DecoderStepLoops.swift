#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CConvKernels
import GraphIR

// Faster paths of two shared kernels a caption decoder's step runs once each on the whole
// batch: log_softmax over the vocabulary and the mean over the feature regions. Each gives
// the bits the general loop (SoftmaxLoops.swift, ReductionLoops.swift) gives.

/// log_softmax along the last axis, rows split over the pool when there are many. A row is what
/// `softmaxAlongAxis(log: true)` computes from it: the same maximum, the same exps summed in
/// the same order in Double, the same subtraction. The exps are written to scratch rows in
/// one vector loop first (the general loop's exp feeds its Double sum), by a C kernel per ISA.
func logSoftmaxLastAxis(_ c: KernelContext) {
    let x = c.inputs[0].f32, y = c.output.f32
    guard let n = c.output.shape.last, n > 0 else { return }
    let rows = c.output.count / n
    // A row costs about n operations once vectorised: the decoder's [8, 21, 190] stays on
    // one thread (waking a second one costs more than it saves); a large vocabulary splits.
    // gc_log_softmax_rows (decoder_kernels.c): 16 lanes wide, eight rows' Double sums side by
    // side instead of one addition chain per row.
    c.pool.parallelFor(rows, grain: WorkerPool.grain(itemCost: n)) { _, range in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 8 * n) { scratch in
            guard let e = scratch.baseAddress else { return }
            gc_log_softmax_rows(x, y, e, n, range.lowerBound, range.upperBound)
        }
    }
}

/// log_softmax_grad along the last axis, `dy - exp(y) * Σ dy` per row, rows split over the pool
/// when there are many: the bits of `softmaxGradAlongAxis(log: true)` (each row's Σ dy in
/// order in Double, the same exp, multiplication and subtraction), in vector loops by a C
/// kernel per ISA with eight rows' sums side by side. The general loop's one addition chain
/// per row made a caption decoder's unfused loss gradient ([5, 21, 1024] in the vanilla
/// decoder's last batch) take 0.17 ms a step where the fused one took 0.02 (Zen 4, session 20).
func logSoftmaxGradLastAxis(_ c: KernelContext) {
    let dy = c.inputs[0].f32, y = c.inputs[1].f32, dx = c.output.f32
    guard let n = c.output.shape.last, n > 0 else { return }
    let rows = c.output.count / n
    c.pool.parallelFor(rows, grain: WorkerPool.grain(itemCost: 2 * n)) { _, range in
        gc_log_softmax_grad_rows(dy, y, dx, n, range.lowerBound, range.upperBound)
    }
}

/// Where the reduced axes of `shape` are one block of adjacent axes followed by kept ones:
/// x read as [outer, reduced, inner] with inner > 1 (nil otherwise, e.g. a last-axis sum).
func middleAxesSplit(_ shape: [Int], reduced axes: [Int]) -> (outer: Int, reduced: Int, inner: Int)? {
    let rank = shape.count
    let normalized = Set(axes.map { normalizedAxis($0, rank: rank) })
    guard let first = normalized.min(), let last = normalized.max(), last - first + 1 == normalized.count,
          first >= 0, last < rank - 1 else { return nil }
    var outer = 1, reduced = 1, inner = 1
    for (k, d) in shape.enumerated() {
        if k < first { outer *= d } else if k <= last { reduced *= d } else { inner *= d }
    }
    return inner > 1 ? (outer, reduced, inner) : nil
}

/// Sum (times `scale` when given, for a mean) over the middle of x = [outer, reduced, inner]
/// into y = [outer, inner], split over the pool by outer rows (and column blocks when there are
/// few rows). Each output starts at 0 and adds its inputs in order of the reduced index, as
/// `sumReduce` does, so the bits are the same at any split.
func sumMiddleAxes(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, outer: Int, reduced: Int, inner: Int,
                   scale: Float?, pool: WorkerPool) {
    sumMiddleAxes(rows: { x + $0 * reduced * inner }, into: y, outer: outer, reduced: reduced, inner: inner, scale: scale, pool: pool)
}

/// The same, with outer row o's [reduced, inner] block read at `rows(o)` (a batch gathered
/// from a table while it is reduced: `ReducedFeed.reduce(items:into:pool:)`).
func sumMiddleAxes(rows: (Int) -> UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, outer: Int, reduced: Int, inner: Int,
                   scale: Float?, pool: WorkerPool) {
    // Whole rows when there are enough to share out (one pass over memory in order); else
    // blocks of 256 columns, so a batch of one splits too.
    let width = outer >= 2 * pool.width ? max(inner, 1) : 256
    let blocks = (inner + width - 1) / width
    let grain = max(1, pool.memoryBoundGrain / max(reduced * min(width, inner), 1))
    pool.parallelFor(outer * blocks, grain: grain) { _, range in
        for item in range {
            let o = item / blocks, j0 = (item % blocks) * width, w = min(width, inner - j0)
            let dst = y + o * inner + j0
            fill(dst, w, 0)
            var src = rows(o) + j0
            for _ in 0..<reduced {
                for j in 0..<w { dst[j] += src[j] }
                src += inner
            }
            if let s = scale { for j in 0..<w { dst[j] *= s } }
        }
    }
}
