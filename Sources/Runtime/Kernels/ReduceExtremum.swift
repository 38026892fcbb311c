import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/ReduceExtremum.swift.

extension ReduceMaxOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        if c.inputs[0].dtype == .i64 { reduceExtremum(c, Int64.self, isNaN: { _ in false }) { v, m in v > m } }
        else { reduceExtremum(c, Float.self, isNaN: { $0.isNaN }) { v, m in v > m } }
    }
}

extension ReduceMinOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        if c.inputs[0].dtype == .i64 { reduceExtremum(c, Int64.self, isNaN: { _ in false }) { v, m in v < m } }
        else { reduceExtremum(c, Float.self, isNaN: { $0.isNaN }) { v, m in v < m } }
    }
}

extension ReduceExtremumGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { reduceExtremumGradient(c) }
}

/// Each row of x against the output element it reduces onto, with out's strides over x's
/// axes (0 on reduced axes).
@inline(__always)
private func forEachReducedRow(_ x: TensorView, _ attributes: Attributes,
                               _ body: (_ row: Int, _ out: Int, _ n: Int, _ stride: Int) -> Void) {
    let rank = x.shape.count
    let axes = attributes[.axes] ?? []
    forEachStridedRow(x.shape, strides: { s1, _ in
        writeReducedStrides(of: x.shape, isReduced: { i in axes.contains { normalizedAxis($0, rank: rank) == i } }, into: s1)
    }) { o0, o1, _, n, s1, _ in body(o0, o1, n, s1) }
}

/// y = the extremum of x (f32 or i64) over the axes: `better(v, m)` says v replaces the
/// running m; a NaN replaces anything and is never replaced.
@inline(__always)
private func reduceExtremum<T: Numeric>(_ c: KernelContext, _: T.Type, isNaN: (T) -> Bool, _ better: (T, T) -> Bool) {
    let x = c.inputs[0], y = c.output.data.assumingMemoryBound(to: T.self)
    guard x.count > 0 else { y.update(repeating: 0, count: c.output.count); return }
    let px = x.data.assumingMemoryBound(to: T.self)
    var seen = [Bool](repeating: false, count: c.output.count)
    forEachReducedRow(x, c.attributes) { row, out, n, stride in
        let p = px + row
        for j in 0..<n {
            let o = out + j * stride, v = p[j]
            if !seen[o] { y[o] = v; seen[o] = true } else if !isNaN(y[o]) && (isNaN(v) || better(v, y[o])) { y[o] = v }
        }
    }
}

/// dx = dy / (ties) where x equals its y, else 0 (NaN equals a NaN result here).
private func reduceExtremumGradient(_ c: KernelContext) {
    let dy = c.inputs[0].f32, x = c.inputs[1], y = c.inputs[2].f32, dx = c.output.f32
    let ties = c.workspace.floats(max(c.inputs[2].count, 1))
    fill(ties, c.inputs[2].count, 0)
    @inline(__always) func hits(_ v: Float, _ m: Float) -> Bool { v == m || (v.isNaN && m.isNaN) }
    forEachReducedRow(x, c.attributes) { row, out, n, stride in
        let p = x.f32 + row
        for j in 0..<n where hits(p[j], y[out + j * stride]) { ties[out + j * stride] += 1 }
    }
    forEachReducedRow(x, c.attributes) { row, out, n, stride in
        let p = x.f32 + row, d = dx + row
        for j in 0..<n {
            let o = out + j * stride
            d[j] = hits(p[j], y[o]) ? dy[o] / ties[o] : 0
        }
    }
}
