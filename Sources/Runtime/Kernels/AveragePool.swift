import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/AveragePool.swift.

extension Avgpool2dOp: KernelOp {
    public static func kernel(_ c: KernelContext) { avgpool2d(c, backward: false) }
}

extension Avgpool2dGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { avgpool2d(c, backward: true) }
}

/// One output position's window: the rows and columns inside the image, and the divisor.
@inline(__always)
private func averageWindow(_ g: ConvGeometry, _ oi: Int, _ oj: Int, endPad: (Int, Int), includePad: Bool)
    -> (rows: Range<Int>, columns: Range<Int>, divisor: Float) {
    let i0 = oi * g.sh - g.ph, j0 = oj * g.sw - g.pw
    // The window clipped to the padded input, then to the image.
    let i1 = min(i0 + g.kh, g.h + endPad.0), j1 = min(j0 + g.kw, g.w + endPad.1)
    let rows = max(i0, 0)..<max(min(i1, g.h), max(i0, 0)), columns = max(j0, 0)..<max(min(j1, g.w), max(j0, 0))
    // In Double: a window mostly in padding may hold more taps than an Int counts.
    let count = includePad ? Double(i1 - i0) * Double(j1 - j0) : Double(rows.count * columns.count)
    return (rows, columns, Float(max(count, 1)))
}

/// Forward: y = window sum / divisor. Backward (inputs dy, x): dx gets dy / divisor on each
/// element of the window. Planes are split over the pool (windows never cross planes).
private func avgpool2d(_ c: KernelContext, backward: Bool) {
    avgpool2d(x: backward ? c.inputs[1] : c.inputs[0], y: backward ? c.inputs[0] : c.output, dx: backward ? c.output : nil,
              attributes: c.attributes, pool: c.pool)
}

/// The forward (`dx` nil: y from x) or the backward (dx from dy in `y`), planes split over
/// `pool` in chunks of `grain` elements (nil: as the tuner chose, `avgpool-grain` /
/// `avgpool-backward-grain`). Every grain gives the same result: windows never cross planes,
/// and the backward clears each plane of dx before adding to it.
func avgpool2d(x: TensorView, y: TensorView, dx: TensorView?, attributes: Attributes, pool: WorkerPool, grain: Int? = nil) {
    let backward = dx != nil
    let k = attributes[.kernelSize] ?? [1, 1]
    let g = ConvGeometry(x: x.shape, y: y.shape, kernel: (k.count == 2 ? k[0] : 1, k.count == 2 ? k[1] : 1), attributes: attributes)
    let window = Window2d(attributes)
    let endPad = (window.padEnd[0], window.padEnd[1])
    let includePad = attributes[.countIncludePad] ?? false
    splitPlanes(pool, planes: g.n * g.c, planeElements: g.inPlane, grain: grain,
                key: TuningKey(point: backward ? "avgpool-backward-grain" : "avgpool-grain", shapes: [x.shape],
                               detail: g.tuningDetail + (includePad ? "-incpad" : ""), threads: pool.width)) { planes in
        for p in planes {
            let xp = (dx ?? x).f32 + p * g.inPlane, yp = y.f32 + p * g.outPlane
            if backward { fill(xp, g.inPlane, 0) }
            for oi in 0..<g.oh {
                for oj in 0..<g.ow {
                    let (rows, columns, divisor) = averageWindow(g, oi, oj, endPad: endPad, includePad: includePad)
                    if backward {
                        let share = yp[oi * g.ow + oj] / divisor
                        for i in rows { for j in columns { xp[i * g.w + j] += share } }
                    } else {
                        var sum: Float = 0
                        for i in rows { for j in columns { sum += xp[i * g.w + j] } }
                        yp[oi * g.ow + oj] = sum / divisor
                    }
                }
            }
        }
    }
}
