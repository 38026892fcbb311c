import GraphIR

// Loops for element-by-element kernels. The closures are inlined into each kernel, so every
// op gets its own tight loop.

/// Elements per chunk below which an elementwise (or pooling) loop stays on one thread.
let elementwiseGrain = WorkerPool.memoryBoundMinimumWork

// mapUnary and mapBinary stay on one thread: split over the pool, `f` becomes an indirect
// call per element inside the chunk's closure (the optimiser does not specialise a closure
// on the closure it captures), which made relu_grad slower on two threads than on one.
// Hot elementwise ops get a loop of their own instead (`reluGradient`).

/// `out[i] = f(x[i])` over one f32 input of the output's shape.
@inline(__always)
func mapUnary(_ c: KernelContext, _ f: (Float) -> Float) {
    let x = c.inputs[0].f32, y = c.output.f32
    for i in 0..<c.output.count { y[i] = f(x[i]) }
}

/// `relu_grad(dy, x)`: dy where x > 0, else 0; split over the pool. The choice is a bit mask,
/// not `x > 0 ? dy : 0`: in this closure the compiler made that a branch, which random signs
/// mispredict half the time.
func reluGradient(_ c: KernelContext) {
    let dy = c.inputs[0].f32, x = c.inputs[1].f32, out = c.output.f32
    c.pool.parallelFor(c.output.count, grain: c.pool.memoryBoundGrain) { _, range in
        for i in range {
            let keep = UInt32(unsafeBitCast(x[i] > 0, to: UInt8.self))
            out[i] = Float(bitPattern: dy[i].bitPattern & (0 &- keep))
        }
    }
}

/// `out = f(a, b)` over f32 with numpy broadcasting.
@inline(__always)
func mapBinary(_ c: KernelContext, _ f: (Float, Float) -> Float) { mapBinary(c, Float.self, f) }

/// `out = f(a, b)` with numpy broadcasting, on operands and result of element type `T` (f32,
/// or i64 for integer arithmetic). Same-shape operands run as one flat loop; a scalar or a
/// trailing-axes operand (a bias) becomes rows with a stride-0 or contiguous inner walk.
@inline(__always)
func mapBinary<T>(_ c: KernelContext, _: T.Type, _ f: (T, T) -> T) {
    let a = c.inputs[0], b = c.inputs[1], out = c.output
    let pa = a.data.assumingMemoryBound(to: T.self), pb = b.data.assumingMemoryBound(to: T.self)
    let po = out.data.assumingMemoryBound(to: T.self)
    let count = out.count
    if a.count == count && b.count == count {
        for i in 0..<count { po[i] = f(pa[i], pb[i]) }
        return
    }
    let rank = out.shape.count
    forEachStridedRow(out.shape, strides: { s1, s2 in
        writeBroadcastStrides(of: a.shape, rank: rank, into: s1)
        writeBroadcastStrides(of: b.shape, rank: rank, into: s2)
    }) { o0, o1, o2, n, s1, s2 in
        let y = po + o0, xa = pa + o1, xb = pb + o2
        if s1 == 1 && s2 == 1 {
            for j in 0..<n { y[j] = f(xa[j], xb[j]) }
        } else if s1 == 1 && s2 == 0 {
            let v = xb[0]
            for j in 0..<n { y[j] = f(xa[j], v) }
        } else if s1 == 0 && s2 == 1 {
            let v = xa[0]
            for j in 0..<n { y[j] = f(v, xb[j]) }
        } else {
            for j in 0..<n { y[j] = f(xa[j * s1], xb[j * s2]) }
        }
    }
}

/// Fills `count` floats with `v`.
@inline(__always)
func fill(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ v: Float) {
    p.update(repeating: v, count: count)
}
