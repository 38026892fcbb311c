import GraphIR
// Sums down to a broadcast-compatible shape, the broadcast back up, and per-axis scans.

/// `out` = the sum of `x` over the positions that share an index into `out`, where
/// `outStrides` fills out's strides over x's axes (0 on summed axes). Rows that collapse onto
/// one output element accumulate in Double.
@inline(__always)
func sumReduce(_ x: TensorView, into out: TensorView, outStrides: (UnsafeMutablePointer<Int>) -> Void) {
    let px = x.f32, po = out.f32
    fill(po, out.count, 0)
    forEachStridedRow(x.shape, strides: { s1, _ in outStrides(s1) }) { o0, o1, _, n, s1, _ in
        let row = px + o0
        if s1 == 0 {
            po[o1] += Float(rowSum(row, n))
        } else if s1 == 1 {
            let y = po + o1
            for j in 0..<n { y[j] += row[j] }
        } else {
            for j in 0..<n { po[o1 + j * s1] += row[j] }
        }
    }
}

/// Sum (or mean) of the kernel's input over its `axes` attribute; keepdims only changes the
/// output's shape, not its memory.
@inline(__always)
func reduceAxes(_ c: KernelContext, mean: Bool) {
    reduceAxes(c.inputs[0], axes: c.attributes[.axes] ?? [], mean: mean, into: c.output, pool: c.pool)
}

/// Sum (or mean) of `x` over `axes` into `out`: the kernels' loops, also run on a feed taken
/// reduced (`ReducedFeed`), which so holds the bits the reduction node would have computed.
func reduceAxes(_ x: TensorView, axes: [Int], mean: Bool, into out: TensorView, pool: WorkerPool) {
    let rank = x.shape.count
    if let split = middleAxesSplit(x.shape, reduced: axes) {
        sumMiddleAxes(x.f32, into: out.f32, outer: split.outer, reduced: split.reduced, inner: split.inner,
                      scale: mean ? meanScale(x.count, into: out.count) : nil, pool: pool)
        return
    }
    if let split = outerAndInnerAxesSplit(x.shape, reduced: axes) {
        sumOuterAndInnerAxes(x.f32, into: out.f32, outer: split.outer, kept: split.kept, inner: split.inner, pool: pool)
    } else {
        sumReduce(x, into: out) { p in
            writeReducedStrides(of: x.shape, isReduced: { i in axes.contains { normalizedAxis($0, rank: rank) == i } }, into: p)
        }
    }
    if mean, let scale = meanScale(x.count, into: out.count) {
        let po = out.f32
        for i in 0..<out.count { po[i] *= scale }
    }
}

/// What a mean multiplies its sums by (nil when either side is empty).
func meanScale(_ inputCount: Int, into outputCount: Int) -> Float? {
    outputCount > 0 && inputCount > 0 ? Float(Double(outputCount) / Double(inputCount)) : nil
}

/// Where the reduced axes of `shape` are leading axes and trailing axes around kept ones (a
/// bias gradient, [N, C, H, W] summed over N, H and W): x read as [outer, kept, inner] with
/// kept > 1 and inner > 1 (nil otherwise). Size-1 axes count as either.
func outerAndInnerAxesSplit(_ shape: [Int], reduced axes: [Int]) -> (outer: Int, kept: Int, inner: Int)? {
    let rank = shape.count
    let sized = (0..<rank).filter { shape[$0] != 1 }
    let isReduced = sized.map { i in axes.contains { normalizedAxis($0, rank: rank) == i } }
    guard let firstKept = isReduced.firstIndex(of: false), let lastKept = isReduced.lastIndex(of: false),
          !isReduced[firstKept...lastKept].contains(true) else { return nil }
    let outer = sized[..<firstKept].reduce(1) { $0 * shape[$1] }, kept = sized[firstKept...lastKept].reduce(1) { $0 * shape[$1] }
    let inner = sized[(lastKept + 1)...].reduce(1) { $0 * shape[$1] }
    return kept > 1 && inner > 1 ? (outer, kept, inner) : nil
}

/// y[c] = the sum of x = [outer, kept, inner] over outer and inner, as `sumReduce` adds it
/// (each inner row summed by `rowSum`, the rows added into y[c] in order of the outer index),
/// so the bits are the same; the kept outputs are split over the pool, each summed by one
/// thread, so they are the same at any split too.
func sumOuterAndInnerAxes(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, outer: Int, kept: Int, inner: Int,
                          pool: WorkerPool) {
    sumRowsInOuterOrder(into: y, outer: outer, kept: kept, grain: max(1, pool.memoryBoundGrain / max(outer * inner, 1)),
                        pool: pool) { row in rowSum(x + row * inner, inner) }
}

/// y[k] = Σ Float(rowTotal(o * kept + k)) over o in 0..<outer, added in order of o from a
/// Float 0 (the rows of [outer, kept, inner] that share kept index k). The kept outputs are
/// split over the pool; each thread walks its rows in memory order (outer index, then its kept
/// indices: one contiguous block of rows per outer index, which the prefetchers stream,
/// instead of one row per outer stride), adding into y, so each output's additions, and bits,
/// are those of a loop over o for one k, at any split.
@inline(__always)
func sumRowsInOuterOrder(into y: UnsafeMutablePointer<Float>, outer: Int, kept: Int, grain: Int, pool: WorkerPool,
                         _ rowTotal: (Int) -> Double) {
    withoutActuallyEscaping(rowTotal) { rowTotal in
        pool.parallelFor(kept, grain: grain) { _, range in
            for k in range { y[k] = 0 }
            for o in 0..<outer {
                let first = o * kept
                for k in range { y[k] += Float(rowTotal(first + k)) }
            }
        }
    }
}

/// Copies `x` into every position of the larger `out` (numpy broadcasting).
@inline(__always)
func broadcast(_ x: TensorView, to out: TensorView) {
    let px = x.f32, po = out.f32
    let rank = out.shape.count
    forEachStridedRow(out.shape, strides: { s1, _ in writeBroadcastStrides(of: x.shape, rank: rank, into: s1) }) { o0, o1, _, n, s1, _ in
        let y = po + o0
        if s1 == 0 {
            fill(y, n, px[o1])
        } else if s1 == 1 {
            y.update(from: px + o1, count: n)
        } else {
            for j in 0..<n { y[j] = px[o1 + j * s1] }
        }
    }
}

/// Index of the largest element along an axis. Ties keep the first (the last with `last`,
/// ONNX's select_last_index); NaN counts as largest (as PyTorch does), the first NaN winning.
@inline(__always)
func argmaxAlongAxis(_ x: TensorView, axis: Int, into out: TensorView, last: Bool = false) {
    let s = AxisSplit(x.shape, axis: axis)
    let px = x.f32, po = out.i64
    guard s.n > 0 else { po.update(repeating: 0, count: out.count); return }
    for o in 0..<s.outer {
        for i in 0..<s.inner {
            let base = px + o * s.n * s.inner + i
            var best = base[0], at = 0
            if !best.isNaN {
                var k = 1
                while k < s.n {
                    let v = base[k * s.inner]
                    if v > best || (last && v == best) || v.isNaN { best = v; at = k; if v.isNaN { break } }
                    k += 1
                }
            }
            po[o * s.inner + i] = Int64(at)
        }
    }
}

/// Σ row[0..<n] in Double with sixteen independent accumulators (four vectors of four), so
/// the adds pipeline instead of waiting on each other; they are combined in a fixed order.
@inline(__always)
func rowSum(_ row: UnsafePointer<Float>, _ n: Int) -> Double {
    var a0 = SIMD4<Double>(), a1 = SIMD4<Double>(), a2 = SIMD4<Double>(), a3 = SIMD4<Double>()
    let raw = UnsafeRawPointer(row)
    var j = 0
    while j + 16 <= n {
        a0 += SIMD4<Double>(raw.loadUnaligned(fromByteOffset: 4 * j, as: SIMD4<Float>.self))
        a1 += SIMD4<Double>(raw.loadUnaligned(fromByteOffset: 4 * j + 16, as: SIMD4<Float>.self))
        a2 += SIMD4<Double>(raw.loadUnaligned(fromByteOffset: 4 * j + 32, as: SIMD4<Float>.self))
        a3 += SIMD4<Double>(raw.loadUnaligned(fromByteOffset: 4 * j + 48, as: SIMD4<Float>.self))
        j += 16
    }
    var tail = 0.0
    while j < n { tail += Double(row[j]); j += 1 }
    let t = (a0 + a1) + (a2 + a3)
    return ((t[0] + t[1]) + (t[2] + t[3])) + tail
}
