import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/AttentionContext.swift. Examples are split
// over the pool by core, as the attention-score kernels and the per-example products split
// them, so that each core reads its own examples' features step after step. Each example
// computes what softmax (`softmaxRow`), the per-example matrix-vector products of matmul
// (`sgemm`) and softmax_grad (`softmaxGradRow`) compute, with the same functions: the same
// bits as the ops it replaces.

/// Sizes of features [B, N, D].
private struct ContextSizes {
    let batch: Int, regions: Int, width: Int
    init(_ features: TensorView) {
        let s = features.shape
        (batch, regions, width) = s.count == 3 ? (s[0], s[1], s[2]) : (0, 0, 0)
    }

    /// Runs `body` for each example, examples split by core, with scratch for N floats.
    func forEachExample(_ pool: WorkerPool, _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
        guard batch > 0, regions > 0 else { return }
        pool.parallelForByCore(batch, grain: WorkerPool.grain(itemCost: regions * width)) { examples in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: regions) { alpha in
                guard let a = alpha.baseAddress else { return }
                for b in examples { body(b, a) }
            }
        }
    }
}

extension AttentionContextOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let scores = c.inputs[0].f32, features = c.inputs[1].f32, y = c.output.f32
        let s = ContextSizes(c.inputs[1])
        let n = s.regions, d = s.width
        guard s.regions > 0 else { fill(y, c.output.count, 0); return }
        s.forEachExample(c.pool) { b, alpha in
            softmaxRow(scores + b * n, into: alpha, n)
            // matmul(alpha [1, N] as the transposed [N, 1], features[b] [N, D]).
            sgemm(transA: true, m: 1, n: d, k: n, a: alpha, lda: 1, b: features + b * n * d, ldb: d, c: y + b * d, ldc: d)
        }
    }
}

extension AttentionContextGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let dc = c.inputs[0].f32, scores = c.inputs[1].f32, features = c.inputs[2].f32, ds = c.output.f32
        let s = ContextSizes(c.inputs[2])
        let n = s.regions, d = s.width
        s.forEachExample(c.pool) { b, alpha in
            softmaxRow(scores + b * n, into: alpha, n)
            // g = features[b] [N, D] · dc[b]ᵀ (matmul with transpose_b), written where the
            // scores' gradient goes, then softmax_grad's row: alpha (g - Σ alpha g).
            let g = ds + b * n
            sgemm(transB: true, m: n, n: 1, k: d, a: features + b * n * d, lda: d, b: dc + b * d, ldb: d, c: g, ldc: 1)
            softmaxGradRow(g, alpha, into: g, n)
        }
    }
}
