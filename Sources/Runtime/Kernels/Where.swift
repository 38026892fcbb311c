import GraphIR

// CPU kernel of the op declared in GraphIR/Ops/Where.swift.

extension WhereOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let cond = c.inputs[0], x = c.inputs[1], y = c.inputs[2], out = c.output
        let holds: (Int) -> Bool = cond.dtype == .i64 ? { cond.i64[$0] != 0 } : { cond.f32[$0] != 0 }
        if out.dtype == .i64 {
            let px = x.i64, py = y.i64, po = out.i64
            walk(c) { o, k, i, j in po[o] = holds(k) ? px[i] : py[j] }
        } else {
            let px = x.f32, py = y.f32, po = out.f32
            walk(c) { o, k, i, j in po[o] = holds(k) ? px[i] : py[j] }
        }
    }

    /// Calls `body(o, k, i, j)` for each element o of the result (row-major) with the offsets
    /// of the elements of cond, x and y it reads: each offset advances by its operand's
    /// broadcast stride, 0 along an axis the operand is broadcast over.
    @inline(__always)
    static func walk(_ c: KernelContext, _ body: (Int, Int, Int, Int) -> Void) {
        let shape = c.output.shape, count = c.output.count
        guard count > 0 else { return }
        if c.inputs.allSatisfy({ $0.count == count }) {
            for o in 0..<count { body(o, o, o, o) }
            return
        }
        let rank = shape.count
        let strides = c.inputs.map { broadcastStrides($0.shape, rank: rank) }
        let (sc, sx, sy) = (strides[0], strides[1], strides[2])
        var index = [Int](repeating: 0, count: rank)
        var k = 0, i = 0, j = 0
        for o in 0..<count {
            body(o, k, i, j)
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                k += sc[axis]; i += sx[axis]; j += sy[axis]
                if index[axis] < shape[axis] { break }
                k -= sc[axis] * shape[axis]; i -= sx[axis] * shape[axis]; j -= sy[axis] * shape[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }

    /// Row-major strides of `shape` aligned to the right of `rank` axes, 0 where it has size 1
    /// or no axis.
    static func broadcastStrides(_ shape: [Int], rank: Int) -> [Int] {
        var strides = [Int](repeating: 0, count: rank)
        var s = 1
        for (axis, d) in shape.enumerated().reversed() {
            let a = rank - shape.count + axis
            strides[a] = d == 1 ? 0 : s
            s *= d
        }
        return strides
    }
}
