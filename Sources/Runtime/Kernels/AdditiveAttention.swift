import CConvKernels
import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/AdditiveAttention.swift, over the C loops of
// attention_kernels.h (AVX-512, AVX2+FMA or SSE2, chosen at run time). Rows are the B x N
// (batch, region) pairs of enc [B, N, A]. Every result element is summed in one fixed order
// whatever the thread count: rows or batch rows are split over threads, never a sum (the
// weight's gradient sums per-batch-row partials in batch order).

/// Sizes of enc [B, N, A] as the kernels read them.
private struct AttentionRows {
    let batch: Int, regions: Int, width: Int
    init(_ enc: TensorView) {
        batch = enc.shape.count == 3 ? enc.shape[0] : 0
        regions = enc.shape.count == 3 ? enc.shape[1] : 0
        width = enc.shape.count == 3 ? enc.shape[2] : 0
    }
    var rows: Int { batch * regions }

    /// Runs `body` over ranges of rows split over the pool. With at least one batch row per
    /// thread, whole batch rows by core (`parallelForByCore`): a decoder's attention ops read
    /// enc (and its features) step after step, and each core then keeps its examples' part in
    /// its own cache. Otherwise (one image at a time, decoding) rows, at least `grain` per
    /// chunk.
    func forEachRows(_ pool: WorkerPool, grain: Int, _ body: (Range<Int>) -> Void) {
        if batch >= pool.width && batch > 1 {
            pool.parallelForByCore(batch, grain: max(1, grain / max(regions, 1))) { images in
                body(images.lowerBound * regions..<images.upperBound * regions)
            }
        } else {
            pool.parallelFor(rows, grain: grain) { _, rows in body(rows) }
        }
    }

    /// Runs `body` over ranges of whole batch rows, by core.
    func forEachBatchRows(_ pool: WorkerPool, costPerElement: Int, _ body: (Range<Int>) -> Void) {
        pool.parallelForByCore(batch, grain: WorkerPool.grain(itemCost: costPerElement * max(regions * width, 1)), body)
    }
}

extension AdditiveScoresOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let enc = c.inputs[0].f32, dec = c.inputs[1].f32, w = c.inputs[2].f32, y = c.output.f32
        let s = AttentionRows(c.inputs[0])
        s.forEachRows(c.pool, grain: WorkerPool.grain(itemCost: 4 * max(s.width, 1))) { rows in
            gc_additive_scores(enc, dec, w, y, s.regions, s.width, rows.lowerBound, rows.upperBound)
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
        s.forEachRows(c.pool, grain: WorkerPool.grain(itemCost: 3 * max(s.width, 1))) { rows in
            gc_additive_scores_grad(dy, enc, dec, w, acc, out, s.regions, s.width, rows.lowerBound, rows.upperBound)
        }
    }
}

extension AdditiveScoresGradSumOp: KernelOp {
    /// Rows split as additive_scores_grad splits them; each row sums its steps in order.
    public static func kernel(_ c: KernelContext) {
        let enc = c.inputs[0].f32, w = c.inputs[1].f32, out = c.output.f32
        let steps = (c.inputs.count - 2) / 2
        let dys: [UnsafePointer<Float>?] = (0..<steps).map { UnsafePointer(c.inputs[2 + 2 * $0].f32) }
        let decs: [UnsafePointer<Float>?] = (0..<steps).map { UnsafePointer(c.inputs[3 + 2 * $0].f32) }
        let s = AttentionRows(c.inputs[0])
        dys.withUnsafeBufferPointer { dys in
            decs.withUnsafeBufferPointer { decs in
                guard let dyp = dys.baseAddress, let decp = decs.baseAddress else { return }
                s.forEachRows(c.pool, grain: WorkerPool.grain(itemCost: 4 * steps * max(s.width, 1))) { rows in
                    gc_additive_scores_grad_sum(dyp, decp, steps, enc, w, out, s.regions, s.width, rows.lowerBound, rows.upperBound)
                }
            }
        }
    }
}

extension AdditiveScoresWeightGradOp: KernelOp {
    /// A partial sum per batch row over its regions in order (batch rows split by core as the
    /// other attention kernels split them, so each core reads only its own examples' enc),
    /// then the partials summed in batch order: the same bits at any thread count.
    public static func kernel(_ c: KernelContext) {
        let dy = c.inputs[0].f32, enc = c.inputs[1].f32, dec = c.inputs[2].f32, dw = c.output.f32
        let s = AttentionRows(c.inputs[1])
        let a = s.width
        guard a > 0 else { return }
        guard s.batch > 0 else { for k in 0..<a { dw[k] = 0 }; return }
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: s.batch * a)
        defer { partials.deallocate() }
        s.forEachBatchRows(c.pool, costPerElement: 4) { images in
            gc_additive_scores_weight_partials(dy, enc, dec, partials, s.regions, a, images.lowerBound, images.upperBound)
        }
        for k in 0..<a { dw[k] = partials[k] }
        for b in 1..<s.batch {
            let p = partials + b * a
            for k in 0..<a { dw[k] += p[k] }
        }
    }
}

extension AdditiveScoresWeightGradSumOp: KernelOp {
    /// As additive_scores_weight_grad for each step (each core's batch rows, all the steps'
    /// partials while its examples' enc is in its cache), then each step's partials summed in
    /// batch order and the steps' sums added in step order: the bits of the single ops and
    /// their chain of adds, at any thread count.
    public static func kernel(_ c: KernelContext) {
        let enc = c.inputs[0].f32, dw = c.output.f32
        let steps = (c.inputs.count - 1) / 2
        let s = AttentionRows(c.inputs[0])
        let a = s.width
        guard a > 0 else { return }
        guard s.batch > 0 else { for k in 0..<a { dw[k] = 0 }; return }
        let perStep = s.batch * a
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: steps * perStep)
        defer { partials.deallocate() }
        s.forEachBatchRows(c.pool, costPerElement: 4 * steps) { images in
            for t in 0..<steps {
                gc_additive_scores_weight_partials(c.inputs[1 + 2 * t].f32, enc, c.inputs[2 + 2 * t].f32, partials + t * perStep,
                                                   s.regions, a, images.lowerBound, images.upperBound)
            }
        }
        var step = [Float](repeating: 0, count: a)
        for t in 0..<steps {
            let p = partials + t * perStep
            for k in 0..<a { step[k] = p[k] }
            for b in 1..<s.batch {
                for k in 0..<a { step[k] += p[b * a + k] }
            }
            if t == 0 { for k in 0..<a { dw[k] = step[k] } } else { for k in 0..<a { dw[k] += step[k] } }
        }
    }
}

extension AdditiveScoresDecGradOp: KernelOp {
    /// Batch rows split over threads by core; each sums its regions in order.
    public static func kernel(_ c: KernelContext) {
        let dy = c.inputs[0].f32, enc = c.inputs[1].f32, dec = c.inputs[2].f32, w = c.inputs[3].f32, dd = c.output.f32
        let s = AttentionRows(c.inputs[1])
        s.forEachBatchRows(c.pool, costPerElement: 3) { images in
            gc_additive_scores_dec_grad(dy, enc, dec, w, dd, s.regions, s.width, images.lowerBound, images.upperBound)
        }
    }
}
