import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/AdditiveAttention.swift. Rows are the
// B x N (batch, region) pairs of enc [B, N, A]; the attention width A is the inner loop,
// 16 lanes at a time. Every result element is summed in one fixed order whatever the
// thread count: rows (or column blocks) are split over threads, never a sum.

/// Sizes of enc [B, N, A] as the kernels read them.
private struct AttentionRows {
    let batch: Int, regions: Int, width: Int
    init(_ enc: TensorView) {
        batch = enc.shape.count == 3 ? enc.shape[0] : 0
        regions = enc.shape.count == 3 ? enc.shape[1] : 0
        width = enc.shape.count == 3 ? enc.shape[2] : 0
    }
    var rows: Int { batch * regions }
}

private typealias Lanes = SIMD16<Float>

@inline(__always)
private func lanes(_ p: UnsafePointer<Float>) -> Lanes {
    UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
}

extension AdditiveScoresOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let enc = c.inputs[0].f32, dec = c.inputs[1].f32, w = c.inputs[2].f32, y = c.output.f32
        let s = AttentionRows(c.inputs[0])
        let a = s.width, full = a - a % Lanes.scalarCount
        c.pool.parallelFor(s.rows, grain: WorkerPool.grain(itemCost: 4 * max(a, 1))) { _, rows in
            for r in rows {
                let e = UnsafePointer(enc + r * a), d = UnsafePointer(dec + (r / s.regions) * a)
                var acc = Lanes(repeating: 0)
                var k = 0
                while k < full {
                    let x = lanes(e + k) + lanes(d + k)
                    acc += lanes(w + k) * x.replacing(with: 0, where: x .< 0)
                    k += Lanes.scalarCount
                }
                var total = acc.sum()
                while k < a {
                    total += w[k] * max(e[k] + d[k], 0)
                    k += 1
                }
                y[r] = total
            }
        }
    }
}

extension AdditiveScoresGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let dy = c.inputs[0].f32, enc = c.inputs[1].f32, dec = c.inputs[2].f32, w = c.inputs[3].f32, out = c.output.f32
        // The accumulator may be the output itself (written in place): each element is read
        // before it is written.
        let acc: UnsafePointer<Float>? = c.inputs.count > 4 ? UnsafePointer(c.inputs[4].f32) : nil
        let s = AttentionRows(c.inputs[1])
        let a = s.width, full = a - a % Lanes.scalarCount
        c.pool.parallelFor(s.rows, grain: WorkerPool.grain(itemCost: 3 * max(a, 1))) { _, rows in
            for r in rows {
                let e = UnsafePointer(enc + r * a), d = UnsafePointer(dec + (r / s.regions) * a), o = out + r * a
                let g = dy[r]
                var k = 0
                while k < full {
                    let x = lanes(e + k) + lanes(d + k)
                    var v = (g * lanes(w + k)).replacing(with: 0, where: x .<= 0)
                    if let acc { v += lanes(acc + r * a + k) }
                    UnsafeMutableRawPointer(o + k).storeBytes(of: v, as: Lanes.self)
                    k += Lanes.scalarCount
                }
                while k < a {
                    let v: Float = e[k] + d[k] > 0 ? g * w[k] : 0
                    o[k] = acc.map { $0[r * a + k] + v } ?? v
                    k += 1
                }
            }
        }
    }
}

extension AdditiveScoresWeightGradOp: KernelOp {
    /// Column blocks of 16 split over threads; each block sums the rows in order.
    public static func kernel(_ c: KernelContext) {
        let dy = c.inputs[0].f32, enc = c.inputs[1].f32, dec = c.inputs[2].f32, dw = c.output.f32
        let s = AttentionRows(c.inputs[1])
        let a = s.width, width = Lanes.scalarCount
        let blocks = (a + width - 1) / width
        c.pool.parallelFor(blocks, grain: WorkerPool.grain(itemCost: 4 * width * max(s.rows, 1))) { _, range in
            for block in range {
                let start = block * width, end = min(start + width, a)
                if end - start == width {
                    var acc = Lanes(repeating: 0)
                    for r in 0..<s.rows {
                        let x = lanes(enc + r * a + start) + lanes(dec + (r / s.regions) * a + start)
                        acc += dy[r] * x.replacing(with: 0, where: x .< 0)
                    }
                    UnsafeMutableRawPointer(dw + start).storeBytes(of: acc, as: Lanes.self)
                } else {
                    for k in start..<end { dw[k] = 0 }
                    for r in 0..<s.rows {
                        let e = enc + r * a, d = dec + (r / s.regions) * a, g = dy[r]
                        for k in start..<end { dw[k] += g * max(e[k] + d[k], 0) }
                    }
                }
            }
        }
    }
}

extension AdditiveScoresDecGradOp: KernelOp {
    /// Batch rows split over threads; each sums its regions in order.
    public static func kernel(_ c: KernelContext) {
        let dy = c.inputs[0].f32, enc = c.inputs[1].f32, dec = c.inputs[2].f32, w = c.inputs[3].f32, dd = c.output.f32
        let s = AttentionRows(c.inputs[1])
        let a = s.width, full = a - a % Lanes.scalarCount
        c.pool.parallelFor(s.batch, grain: WorkerPool.grain(itemCost: 3 * max(a * s.regions, 1))) { _, batchRows in
            for b in batchRows {
                let d = UnsafePointer(dec + b * a), o = dd + b * a
                var k = 0
                while k < full {
                    let dv = lanes(d + k)
                    var sum = Lanes(repeating: 0)
                    for n in 0..<s.regions {
                        let r = b * s.regions + n
                        let x = lanes(enc + r * a + k) + dv
                        sum += Lanes(repeating: dy[r]).replacing(with: 0, where: x .<= 0)
                    }
                    UnsafeMutableRawPointer(o + k).storeBytes(of: sum * lanes(w + k), as: Lanes.self)
                    k += Lanes.scalarCount
                }
                while k < a {
                    var sum: Float = 0
                    for n in 0..<s.regions {
                        let r = b * s.regions + n
                        if enc[r * a + k] + d[k] > 0 { sum += dy[r] }
                    }
                    o[k] = sum * w[k]
                    k += 1
                }
            }
        }
    }
}
