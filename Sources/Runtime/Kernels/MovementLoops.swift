import GraphIR
// Data movement for either element type: block copies around one axis, and transposition.

extension TensorView {
    var elementSize: Int { dtype.byteSize }
    var byteCount: Int { count * dtype.byteSize }
}

/// Copies all of `x` into `out` (reshape: same elements, new shape); nothing to do when the
/// memory planner gave `out` x's region (in place).
@inline(__always)
func copyAll(_ x: TensorView, into out: TensorView) {
    guard out.data != x.data else { return }
    out.data.copyMemory(from: x.data, byteCount: min(x.byteCount, out.byteCount))
}

/// Concatenation along `axis`: each input contributes a block of n_i*inner elements per
/// outer index. `stack` is the same with every n_i = 1.
func concatenate(_ inputs: [TensorView], axis: Int, into out: TensorView) {
    let split = AxisSplit(out.shape, axis: axis)
    let es = out.elementSize
    let outRow = split.n * split.inner * es
    var offset = 0
    for x in inputs {
        let blockElems = x.count / max(split.outer, 1)
        let block = blockElems * es
        for o in 0..<split.outer {
            (out.data + o * outRow + offset).copyMemory(from: x.data + o * block, byteCount: block)
        }
        offset += block
    }
}

/// `out` = `x[..., start..<start+len, ...]` along axis (select is len 1 with the axis gone).
/// With `pool`, the outer rows are split over its threads (a copy: the same bytes either way),
/// by core, as the products that read a weight's slice split its rows.
func sliceCopy(_ x: TensorView, axis: Int, start: Int, length: Int, into out: TensorView, pool: WorkerPool? = nil) {
    let split = AxisSplit(x.shape, axis: axis)
    let es = x.elementSize
    let inRow = split.n * split.inner * es, block = length * split.inner * es
    func copy(_ rows: Range<Int>) {
        for o in rows {
            (out.data + o * block).copyMemory(from: x.data + o * inRow + start * split.inner * es, byteCount: block)
        }
    }
    guard let pool, pool.width > 1, split.outer > 1, split.outer * length * split.inner >= 2 * WorkerPool.memoryBoundMinimumWork else {
        copy(0..<split.outer)
        return
    }
    pool.parallelForByCore(split.outer, grain: max(1, pool.memoryBoundGrain / max(length * split.inner, 1)), copy)
}

/// The adjoint of sliceCopy: `dy` placed at start..<start+len along axis of zeroed `out`.
func sliceScatter(_ dy: TensorView, axis: Int, start: Int, length: Int, into out: TensorView) {
    let split = AxisSplit(out.shape, axis: axis)
    fill(out.f32, out.count, 0)
    let outRow = split.n * split.inner, block = length * split.inner
    for o in 0..<split.outer {
        (out.f32 + o * outRow + start * split.inner).update(from: dy.f32 + o * block, count: block)
    }
}

/// `out[i0..] = x[i_perm...]`: output axis k is input axis perm[k]. Walks the output
/// contiguously with the input's strides permuted.
func transpose(_ x: TensorView, perm: [Int], into out: TensorView) {
    switch x.dtype {
    case .f32: transposeTyped(UnsafePointer(x.f32), x.shape, perm, out.f32, out.shape)
    case .i64: transposeTyped(UnsafePointer(x.i64), x.shape, perm, out.i64, out.shape)
    }
}

private func transposeTyped<T>(_ x: UnsafePointer<T>, _ inShape: [Int], _ perm: [Int], _ y: UnsafeMutablePointer<T>, _ outShape: [Int]) {
    let rank = inShape.count
    guard perm.count == rank else { return }
    forEachStridedRow(outShape, strides: { s1, _ in
        // Input axis a has row-major stride Π inShape[a+1...]; output axis k reads axis perm[k].
        for k in 0..<rank {
            var s = 1
            var a = perm[k] + 1
            while a < rank { s *= inShape[a]; a += 1 }
            s1[k] = s
        }
    }) { o0, o1, _, n, s1, _ in
        let dst = y + o0, src = x + o1
        if s1 == 1 {
            dst.update(from: src, count: n)
        } else {
            for j in 0..<n { dst[j] = src[j * s1] }
        }
    }
}
