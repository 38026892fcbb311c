#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphIR
// Softmax, log-softmax and their backward passes along one axis, plus the NLL loss and the
// embedding lookup. Rows along the axis are strided by `inner` (1 for the last axis).

/// Calls `body(offset, stride, n)` for every row along the axis of `shape`.
@inline(__always)
func forEachAxisRow(_ shape: [Int], axis: Int, _ body: (_ offset: Int, _ stride: Int, _ n: Int) -> Void) {
    let s = AxisSplit(shape, axis: axis)
    for o in 0..<s.outer {
        for i in 0..<s.inner { body(o * s.n * s.inner + i, s.inner, s.n) }
    }
}

/// Softmax (or log-softmax) along the axis, shifted by the row maximum so exp never overflows.
func softmaxAlongAxis(_ c: KernelContext, log isLog: Bool) {
    let x = c.inputs[0].f32, y = c.output.f32
    let axis = normalizedAxis(c.attributes[.axis], rank: c.output.shape.count)
    forEachAxisRow(c.output.shape, axis: axis) { off, st, n in
        guard n > 0 else { return }
        var m = x[off]
        for k in 1..<max(n, 1) { m = max(m, x[off + k * st]) }
        var total = 0.0
        if isLog {
            for k in 0..<n { total += Double(fastExp(x[off + k * st] - m)) }
            // (x - m) - log Σ rather than x - (m + log Σ): the shift cancels before rounding.
            let logTotal = Float(log(total))
            for k in 0..<n { y[off + k * st] = (x[off + k * st] - m) - logTotal }
        } else {
            for k in 0..<n {
                let e = fastExp(x[off + k * st] - m)
                y[off + k * st] = e
                total += Double(e)
            }
            let inv = Float(1 / total)
            for k in 0..<n { y[off + k * st] *= inv }
        }
    }
}

/// Softmax along the last axis (attention's weights over the regions, every decoder step):
/// what `softmaxAlongAxis(log: false)` computes from a row, the same maximum, the same exps
/// summed in the same order in Double and the same scaling, in contiguous loops so that the
/// exp and the scaling vectorise (the general loop strides and feeds its sum from the exp).
func softmaxLastAxis(_ c: KernelContext) {
    let x = c.inputs[0].f32, y = c.output.f32
    guard let n = c.output.shape.last, n > 0 else { return }
    for r in 0..<c.output.count / n { softmaxRow(x + r * n, into: y + r * n, n) }
}

/// One row of `softmaxLastAxis` (n > 0).
@inline(__always)
func softmaxRow(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ n: Int) {
    let inv = Float(1 / shiftedExps(x, into: y, n).total)
    for k in 0..<n { y[k] *= inv }
}

/// A row's shared first half of softmax and log_softmax along the last axis: its maximum `m`,
/// `e[k] = exp(x[k] - m)` in one loop (so the exp vectorises), and the exps' sum in Double in
/// order (the bits of the general loop's sum).
@inline(__always)
func shiftedExps(_ xr: UnsafePointer<Float>, into e: UnsafeMutablePointer<Float>, _ n: Int) -> (max: Float, total: Double) {
    var m = xr[0]
    for k in 1..<n { m = max(m, xr[k]) }
    for k in 0..<n { e[k] = fastExp(xr[k] - m) }
    var total = 0.0
    for k in 0..<n { total += Double(e[k]) }
    return (m, total)
}

/// softmax_grad: `y * (dy - Σ dy*y)`; log_softmax_grad: `dy - exp(y) * Σ dy`.
func softmaxGradAlongAxis(_ c: KernelContext, log: Bool) {
    let dy = c.inputs[0].f32, y = c.inputs[1].f32, dx = c.output.f32
    let axis = normalizedAxis(c.attributes[.axis], rank: c.output.shape.count)
    forEachAxisRow(c.output.shape, axis: axis) { off, st, n in
        if log {
            var s = 0.0
            for k in 0..<n { s += Double(dy[off + k * st]) }
            let sf = Float(s)
            for k in 0..<n { let i = off + k * st; dx[i] = dy[i] - fastExp(y[i]) * sf }
        } else {
            softmaxGradRow(dy + off, y + off, into: dx + off, n, stride: st)
        }
    }
}

/// One row of softmax_grad, `y * (dy - Σ dy*y)`, its n elements `stride` apart (dx may be dy).
@inline(__always)
func softmaxGradRow(_ dy: UnsafePointer<Float>, _ y: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>, _ n: Int,
                    stride st: Int = 1) {
    var s = 0.0
    for k in 0..<n { s += Double(dy[k * st]) * Double(y[k * st]) }
    let sf = Float(s)
    for k in 0..<n { dx[k * st] = y[k * st] * (dy[k * st] - sf) }
}

/// The class index of row i, or nil when it is ignored or outside 0..<classes (the executor
/// reports out-of-range targets before a kernel runs; skipping them here only keeps memory
/// safe).
@inline(__always)
func targetClass(_ t: Int64, classes: Int, ignore: Int64?) -> Int? {
    if let ig = ignore, t == ig { return nil }
    guard t >= 0 && t < Int64(classes) else { return nil }
    return Int(t)
}

/// The `ignore_index` attribute, if any.
@inline(__always)
func ignoreIndex(_ a: Attributes) -> Int64? { a.int("ignore_index").map(Int64.init) }

/// Mean of -logp[i, t_i] over the rows whose target is not ignored; 0 when all are.
func nllLossForward(_ c: KernelContext) {
    let lp = c.inputs[0], t = c.inputs[1]
    let classes = lp.shape.last ?? 1
    let ignore = ignoreIndex(c.attributes)
    var total = 0.0, count = 0
    for i in 0..<t.count {
        guard let k = targetClass(t.i64[i], classes: classes, ignore: ignore) else { continue }
        total -= Double(lp.f32[i * classes + k]); count += 1
    }
    c.output.f32[0] = count > 0 ? Float(total / Double(count)) : 0
}

/// `-dy / count` at each counted target position, zero elsewhere.
func nllLossBackward(_ c: KernelContext) {
    let dy = c.inputs[0], t = c.inputs[2], dx = c.output
    let classes = dx.shape.last ?? 1
    let ignore = ignoreIndex(c.attributes)
    fill(dx.f32, dx.count, 0)
    var count = 0
    for i in 0..<t.count where targetClass(t.i64[i], classes: classes, ignore: ignore) != nil { count += 1 }
    guard count > 0 else { return }
    let g = -dy.f32[0] / Float(count)
    for i in 0..<t.count {
        if let k = targetClass(t.i64[i], classes: classes, ignore: ignore) { dx.f32[i * classes + k] = g }
    }
}

/// Row ids[i] of the [V, D] table for every id; an id outside the table gives a zero row
/// (the executor rejects such ids before running, with the input's name).
func embeddingLookup(ids: TensorView, table: TensorView, into out: TensorView) {
    let rows = table.shape.first ?? 0, d = table.shape.count > 1 ? table.shape[1] : 1
    for i in 0..<ids.count {
        let id = ids.i64[i]
        let dst = out.f32 + i * d
        if id >= 0 && id < Int64(rows) { dst.update(from: table.f32 + Int(id) * d, count: d) } else { fill(dst, d, 0) }
    }
}

/// Adds dy's rows into a zeroed [V, D] gradient at their ids (repeated ids accumulate).
func embeddingScatterAdd(dy: TensorView, ids: TensorView, into out: TensorView) {
    let rows = out.shape.first ?? 0, d = out.shape.count > 1 ? out.shape[1] : 1
    fill(out.f32, out.count, 0)
    for i in 0..<ids.count {
        let id = ids.i64[i]
        guard id >= 0 && id < Int64(rows) else { continue }
        let src = dy.f32 + i * d, dst = out.f32 + Int(id) * d
        for j in 0..<d { dst[j] += src[j] }
    }
}

/// Inverted-dropout mask: 0 with probability p, else 1/(1-p).
func dropoutMask(_ c: KernelContext) {
    let p = Float(c.attributes[.dropProbability] ?? 0)
    let out = c.output.f32, n = c.output.count
    guard p > 0 else { fill(out, n, 1); return }
    // One pass over the draws, each thresholded as it is made: the same stream, and so the
    // same mask, as one `nextFloat` per element (kept where it is >= p).
    c.random.fillMask(out, count: n, keepingFrom: p, value: 1 / (1 - p))
}
