import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Pooling3d.swift: direct loops over each
// window's taps, planes ([N*C]) split over the pool (windows never cross planes).

extension Maxpool3dOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let x = c.inputs[0], y = c.output
        let taps = PoolTaps(x: x.shape, y: y.shape, attributes: c.attributes)
        taps.forEachPlane(c.pool) { p in
            let plane = UnsafePointer(x.f32 + p * taps.inPlane), out = y.f32 + p * taps.outPlane
            taps.forEachOutput { o, od, oh, ow in
                let at = taps.argmax(plane, od, oh, ow)
                out[o] = at >= 0 ? plane[at] : -Float.infinity
            }
        }
    }
}

extension Maxpool3dGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let dy = c.inputs[0], x = c.inputs[1], dx = c.output
        let taps = PoolTaps(x: x.shape, y: dy.shape, attributes: c.attributes)
        taps.forEachPlane(c.pool) { p in
            let plane = UnsafePointer(x.f32 + p * taps.inPlane), grad = dy.f32 + p * taps.outPlane
            let dst = dx.f32 + p * taps.inPlane
            fill(dst, taps.inPlane, 0)
            taps.forEachOutput { o, od, oh, ow in
                let at = taps.argmax(plane, od, oh, ow)
                if at >= 0 { dst[at] += grad[o] }
            }
        }
    }
}

extension Avgpool3dOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let x = c.inputs[0], y = c.output
        let taps = PoolTaps(x: x.shape, y: y.shape, attributes: c.attributes)
        let includePad = c.attributes[.countIncludePad] ?? false
        taps.forEachPlane(c.pool) { p in
            let plane = x.f32 + p * taps.inPlane, out = y.f32 + p * taps.outPlane
            taps.forEachOutput { o, od, oh, ow in
                var sum: Float = 0
                taps.forEachTap(od, oh, ow) { sum += plane[$0] }
                out[o] = sum / taps.divisor(od, oh, ow, includePad: includePad)
            }
        }
    }
}

extension Avgpool3dGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let dy = c.inputs[0], x = c.inputs[1], dx = c.output
        let taps = PoolTaps(x: x.shape, y: dy.shape, attributes: c.attributes)
        let includePad = c.attributes[.countIncludePad] ?? false
        taps.forEachPlane(c.pool) { p in
            let grad = dy.f32 + p * taps.outPlane, dst = dx.f32 + p * taps.inPlane
            fill(dst, taps.inPlane, 0)
            taps.forEachOutput { o, od, oh, ow in
                let share = grad[o] / taps.divisor(od, oh, ow, includePad: includePad)
                taps.forEachTap(od, oh, ow) { dst[$0] += share }
            }
        }
    }
}

extension MaxpoolIndicesOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let x = c.inputs[0], y = c.output
        let taps = PoolTaps(x: x.shape, y: y.shape, attributes: c.attributes)
        let columnMajor = c.attributes[.columnMajor] ?? false
        let (d, h, w) = (taps.inSizes[0], taps.inSizes[1], taps.inSizes[2])
        taps.forEachPlane(c.pool) { p in
            let plane = UnsafePointer(x.f32 + p * taps.inPlane), out = y.i64 + p * taps.outPlane
            taps.forEachOutput { o, od, oh, ow in
                let at = taps.argmax(plane, od, oh, ow)
                guard at >= 0 else { out[o] = -1; return }
                // at = (i*h + j)*w + k within the plane.
                let position = columnMajor ? at / (h * w) + d * ((at / w) % h + h * (at % w)) : at
                out[o] = Int64(p * taps.inPlane + position)
            }
        }
    }
}

/// A pooling op's windows along three spatial axes (a 2-D input is a depth-1 volume): for
/// each output position along each axis, the input positions of its taps inside the input,
/// and how many of its taps lie inside the padded input (the average's divisor with
/// count_include_pad).
struct PoolTaps {
    /// Spatial sizes [D, H, W] of the input and the output.
    let inSizes: [Int], outSizes: [Int]
    let planes: Int, inPlane: Int, outPlane: Int
    /// [axis][output position]: the taps' input positions inside the input.
    private let inside: [[[Int]]]
    /// [axis][output position]: taps inside the padded input.
    private let padded: [[Int]]

    init(x: [Int], y: [Int], attributes: Attributes) {
        let axes = x.count - 2, lift = 3 - axes
        let window = PoolWindow(attributes, axes: axes)
        func lifted(_ v: [Int], _ fill: Int) -> [Int] { [Int](repeating: fill, count: lift) + v }
        inSizes = lifted(Array(x[2...]), 1); outSizes = lifted(Array(y[2...]), 1)
        let kernel = lifted(window.kernel, 1), stride = lifted(window.stride, 1), dilation = lifted(window.dilation, 1)
        let begin = lifted(window.padBegin, 0), end = lifted(window.padEnd, 0)
        planes = x[0] * x[1]
        inPlane = inSizes.reduce(1, *); outPlane = outSizes.reduce(1, *)
        var inside: [[[Int]]] = [], padded: [[Int]] = []
        for a in 0..<3 {
            var axisInside: [[Int]] = [], axisPadded: [Int] = []
            let size = inSizes[a], step = dilation[a], taps = kernel[a]
            for o in 0..<outSizes[a] {
                // Tap k reads start + k*step. Counted from the bounds, not tap by tap: a window
                // may be mostly padding. The shape rule bounded start, the padded size and the
                // window's extent within the Int range, so nothing here overflows.
                let start = o * stride[a] - begin[a]
                func tapsBelow(_ limit: Int) -> Int { limit <= start ? 0 : min(taps, (limit - start - 1) / step + 1) }
                let first = tapsBelow(0), past = tapsBelow(size)
                axisInside.append(first < past ? (first..<past).map { start + $0 * step } : [])
                // Never before the begin padding: o*stride and k*dilation are not negative.
                axisPadded.append(tapsBelow(size + end[a]))
            }
            inside.append(axisInside); padded.append(axisPadded)
        }
        self.inside = inside; self.padded = padded
    }

    func forEachPlane(_ pool: WorkerPool, _ body: (Int) -> Void) {
        pool.parallelFor(planes, grain: max(1, elementwiseGrain / max(inPlane, 1))) { _, range in
            for p in range { body(p) }
        }
    }

    /// body(flat output position within the plane, od, oh, ow).
    @inline(__always)
    func forEachOutput(_ body: (Int, Int, Int, Int) -> Void) {
        var o = 0
        for od in 0..<outSizes[0] { for oh in 0..<outSizes[1] { for ow in 0..<outSizes[2] {
            body(o, od, oh, ow); o += 1
        } } }
    }

    /// body(flat input position within the plane) for each tap inside the input, rows of the
    /// last axis innermost.
    @inline(__always)
    func forEachTap(_ od: Int, _ oh: Int, _ ow: Int, _ body: (Int) -> Void) {
        let h = inSizes[1], w = inSizes[2]
        for i in inside[0][od] { for j in inside[1][oh] {
            let row = (i * h + j) * w
            for k in inside[2][ow] { body(row + k) }
        } }
    }

    /// The first position of the window's maximum in scan order; NaN wins (as in PyTorch), -1
    /// for a window entirely in padding.
    @inline(__always)
    func argmax(_ plane: UnsafePointer<Float>, _ od: Int, _ oh: Int, _ ow: Int) -> Int {
        var best = -Float.infinity, at = -1, found = false
        forEachTap(od, oh, ow) { t in
            guard !found else { return }
            let v = plane[t]
            if at < 0 || v > best || v.isNaN { best = v; at = t; found = v.isNaN }
        }
        return at
    }

    func divisor(_ od: Int, _ oh: Int, _ ow: Int, includePad: Bool) -> Float {
        // In Double: with count_include_pad the padded taps of three axes may multiply past an Int.
        let count = includePad ? Double(padded[0][od]) * Double(padded[1][oh]) * Double(padded[2][ow])
            : Double(inside[0][od].count * inside[1][oh].count * inside[2][ow].count)
        return Float(max(count, 1))
    }
}
