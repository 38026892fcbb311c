import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/MaskedSum.swift.

extension ReluGradSumOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let dy = c.inputs[0], t = c.inputs[1], axes = c.attributes[.axes] ?? []
        if let split = outerAndInnerAxesSplit(dy.shape, reduced: axes) {
            reluGradSumOuterAndInnerAxes(dy.f32, t.f32, into: c.output.f32, outer: split.outer, kept: split.kept,
                                         inner: split.inner, pool: c.pool)
            return
        }
        // Any other axes: the masked gradient made, then summed as `sum` sums it.
        var masked = [Float](repeating: 0, count: dy.count)
        let pd = dy.f32, pt = t.f32
        for i in 0..<dy.count { masked[i] = ReluGradOp.apply(pd[i], pt[i]) }
        let rank = dy.shape.count
        masked.withUnsafeMutableBytes { m in
            sumReduce(TensorView(data: m.baseAddress!, shape: dy.shape, dtype: .f32), into: c.output) { p in
                writeReducedStrides(of: dy.shape, isReduced: { i in axes.contains { normalizedAxis($0, rank: rank) == i } }, into: p)
            }
        }
    }
}

/// y[k] = Σ relu_grad(dy, t) over outer and inner of [outer, kept, inner], as
/// `sumOuterAndInnerAxes` sums a tensor (rows in Double, added in outer order; kept outputs
/// split over the pool), so the bits are those of `sum(relu_grad(dy, t))` at any split.
func reluGradSumOuterAndInnerAxes(_ dy: UnsafePointer<Float>, _ t: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                                  outer: Int, kept: Int, inner: Int, pool: WorkerPool) {
    sumRowsInOuterOrder(into: y, outer: outer, kept: kept, grain: max(1, pool.memoryBoundGrain / max(2 * outer * inner, 1)),
                        pool: pool) { row in reluGradRowSum(dy + row * inner, t + row * inner, inner) }
}

/// Σ (t[j] > 0 ? dy[j] : 0) over a row, with `rowSum`'s accumulators and order.
@inline(__always)
func reluGradRowSum(_ dy: UnsafePointer<Float>, _ t: UnsafePointer<Float>, _ n: Int) -> Double {
    var a0 = SIMD4<Double>(), a1 = SIMD4<Double>(), a2 = SIMD4<Double>(), a3 = SIMD4<Double>()
    let rd = UnsafeRawPointer(dy), rt = UnsafeRawPointer(t)
    @inline(__always) func masked(_ offset: Int) -> SIMD4<Double> {
        let d = rd.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self)
        let m = rt.loadUnaligned(fromByteOffset: offset, as: SIMD4<Float>.self) .> 0
        return SIMD4<Double>(SIMD4<Float>(repeating: 0).replacing(with: d, where: m))
    }
    var j = 0
    while j + 16 <= n {
        a0 += masked(4 * j)
        a1 += masked(4 * j + 16)
        a2 += masked(4 * j + 32)
        a3 += masked(4 * j + 48)
        j += 16
    }
    var tail = 0.0
    while j < n { tail += Double(ReluGradOp.apply(dy[j], t[j])); j += 1 }
    let s = (a0 + a1) + (a2 + a3)
    return ((s[0] + s[1]) + (s[2] + s[3])) + tail
}
