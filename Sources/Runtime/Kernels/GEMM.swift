import GraphIR
import CBLAS

/// `C = alpha * op(A) * op(B) + beta * C` on row-major matrices through OpenBLAS, with op
/// a transpose when asked. Degenerate sizes are handled here because BLAS rejects a leading
/// dimension of 0.
@inline(__always)
func sgemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    guard m > 0 && n > 0 else { return }
    guard k > 0 else {
        for i in 0..<m {
            let row = c + i * ldc
            if beta == 0 { fill(row, n, 0) } else { for j in 0..<n { row[j] *= beta } }
        }
        return
    }
    if m == 1 || n == 1 {
        // A vector result: OpenBLAS's gemm would pack both operands for it (attention's
        // per-example products are 1 x 256 x 512), its gemv streams the matrix once.
        sgemvProduct(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                     beta: beta, c: c, ldc: ldc)
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasInt(m), blasInt(n), blasInt(k), alpha, a, blasInt(max(lda, 1)), b, blasInt(max(ldb, 1)),
                beta, c, blasInt(max(ldc, 1)))
}

/// `sgemm` for m == 1 or n == 1 as one matrix-vector product. With beta 0 the result is
/// zeroed first: the vector may hold anything (arena memory is reused), and 0 * NaN is NaN.
@inline(__always)
func sgemvProduct(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 1 {
        // c[0, j] = Σ_p a[p] op(B)[p, j]; a's p-th element lies lda apart when A is transposed.
        if beta == 0 { for j in 0..<n { c[j] = 0 } }
        cblas_sgemv(CblasRowMajor, transB ? CblasNoTrans : CblasTrans, blasInt(transB ? n : k), blasInt(transB ? k : n), alpha,
                    b, blasInt(max(ldb, 1)), a, blasInt(transA ? max(lda, 1) : 1), beta, c, 1)
    } else {
        // c[i, 0] = Σ_p op(A)[i, p] b[p]; b's p-th element lies ldb apart unless B is transposed.
        if beta == 0 { for i in 0..<m { c[i * ldc] = 0 } }
        cblas_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, blasInt(transA ? k : m), blasInt(transA ? m : k), alpha,
                    a, blasInt(max(lda, 1)), b, blasInt(transB ? 1 : max(ldb, 1)), beta, c, blasInt(max(ldc, 1)))
    }
}

/// BLAS takes 32-bit sizes; the executor refuses tensors with more elements than that.
@inline(__always)
func blasInt(_ v: Int) -> Int32 { Int32(truncatingIfNeeded: v) }

/// The largest element count a tensor may have to be safe for 32-bit BLAS sizes.
public let maxBLASElementCount = Int(Int32.max)

/// `sgemm` split over the pool, in one of the `GEMMSplit` ways: each block is one
/// single-threaded OpenBLAS call that writes its own part of C and computes it as the serial
/// call would, so the result does not depend on timing. Which split is fastest depends on
/// the shapes, the CPU and OpenBLAS's kernels, so the pool's tuner times them for each shape
/// (`gemm-split`); with tuning off the shape rule `GEMMSplit.byShape` decides. Small
/// products stay serial (not worth a dispatch). Only for beta 0 (every variant overwrites C).
func sgemm(pool: WorkerPool, transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
           a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
           c: UnsafeMutablePointer<Float>, ldc: Int, workspace: Workspace? = nil) {
    guard pool.width > 1, m > 1, n > 1, k > 0, m * n * k >= parallelGemmWork else {
        sgemm(transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc)
        return
    }
    func run(_ split: GEMMSplit) {
        split.run(pool: pool, transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc,
                  workspace: workspace)
    }
    let fixed = GEMMSplit.byShape(m: m, n: n, k: k)
    if pool.tuner.mode == .off || pool.isRunningJob { return run(fixed) }
    let key = gemmSplitKey(pool: pool, transA: transA, transB: transB, m: m, n: n, k: k)
    let candidates = [fixed] + GEMMSplit.allCases.filter { $0 != fixed }
    pool.tuner.run(key, candidates.map { split in
        KernelVariant(split.rawValue, fullOnly: split.fullOnly) { run(split) }
    })
}

/// The tuning key of `sgemm(pool:)`'s split for a product of these shapes.
func gemmSplitKey(pool: WorkerPool, transA: Bool, transB: Bool, m: Int, n: Int, k: Int) -> TuningKey {
    TuningKey(point: "gemm-split", shapes: [[m, k], [k, n]], detail: (transA ? "ta" : "") + (transB ? "tb" : ""), threads: pool.width)
}

/// `C = alpha * op(A) * op(B) + beta * C` split over the pool the way `sgemm(pool:)` splits
/// the product of the same shapes: serial where it would be, else the split the tuner chose
/// for it (recalled, never timed here: a run with beta 1 cannot be repeated), or the shape
/// rule with tuning off. Returns false, having run nothing, while the tuner has no choice yet
/// (the caller runs the plain product first, which makes one).
func sgemmAccumulating(pool: WorkerPool, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                       a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                       beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) -> Bool {
    let split: GEMMSplit
    if pool.width <= 1 || m <= 1 || n <= 1 || k <= 0 || m * n * k < parallelGemmWork {
        split = .serial
    } else if pool.tuner.mode == .off || pool.isRunningJob {
        split = GEMMSplit.byShape(m: m, n: n, k: k)
    } else {
        let key = gemmSplitKey(pool: pool, transA: transA, transB: transB, m: m, n: n, k: k)
        guard let name = pool.tuner.recall(key, variants: GEMMSplit.allCases.map(\.rawValue)),
              let chosen = GEMMSplit(rawValue: name) else { return false }
        split = chosen
    }
    split.run(pool: pool, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
              beta: beta, c: c, ldc: ldc)
    return true
}

/// The ways `sgemm(pool:)` shares a product out. Cutting N also splits the packing of B
/// (most of a thin product's time); cutting M shares nothing but gives each thread a
/// contiguous block of C; one serial call packs once.
enum GEMMSplit: String, CaseIterable {
    /// Rows of op(A), one block per thread.
    case rows
    /// Columns of op(B) in whole register blocks, one block per thread.
    case columns
    /// One call on the calling thread.
    case serial
    /// Rows or columns, two blocks per thread (a busy machine's caller takes over a late
    /// worker's second block).
    case rows2, columns2
    /// K in one slice per thread, slice t on the thread for core t (`WorkerPool.parallelFor`),
    /// the other slices' products then added to the first's in slice order, rows split by
    /// core. For `dy·W` in a training step: core t reads only W's rows of slice t, the rows
    /// its share of the weight update (split the same way) writes, so no row of W is in both
    /// cores' caches when the update writes it (see `FusionTuning.chooseInputGradientSplit`).
    /// Timed alone it loses to the other splits (its partials cost a pass), so only a whole
    /// step or `--tune full` times it.
    case kSplit = "k-split"

    var fullOnly: Bool { self == .rows2 || self == .columns2 || self == .kSplit }

    /// The fixed rule (`--tune off`): rows when there are as many as columns, or when K is
    /// the small dimension (a weight gradient xᵀ·dy, where packing is cheap either way);
    /// columns otherwise.
    static func byShape(m: Int, n: Int, k: Int) -> GEMMSplit {
        m >= n || (k * 4 <= min(m, n) && m >= 2 * gemmRowBlock) ? .rows : .columns
    }

    /// `workspace`: scratch for `kSplit`'s partial products (nil: allocated for the call).
    func run(pool: WorkerPool, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
             a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int, beta: Float = 0,
             c: UnsafeMutablePointer<Float>, ldc: Int, workspace: Workspace? = nil) {
        switch self {
        case .serial:
            sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                  beta: beta, c: c, ldc: ldc)
        case .rows, .rows2:
            // Rows of op(A): A is [m, k] (row i at i * lda) or, transposed, [k, m] (column i at i).
            pool.parallelFor(m, grain: gemmRowBlock, perThread: self == .rows ? 1 : 2) { _, rows in
                let i = rows.lowerBound
                sgemm(transA: transA, transB: transB, m: rows.count, n: n, k: k, alpha: alpha, a: a + (transA ? i : i * lda),
                      lda: lda, b: b, ldb: ldb, beta: beta, c: c + i * ldc, ldc: ldc)
            }
        case .columns, .columns2:
            // Columns of op(B) in whole register blocks: B is [k, n] (column j at j) or, transposed, [n, k].
            let blocks = (n + gemmColumnBlock - 1) / gemmColumnBlock
            pool.parallelFor(blocks, perThread: self == .columns ? 1 : 2) { _, range in
                let j = range.lowerBound * gemmColumnBlock, end = min(range.upperBound * gemmColumnBlock, n)
                sgemm(transA: transA, transB: transB, m: m, n: end - j, k: k, alpha: alpha, a: a, lda: lda,
                      b: b + (transB ? j * ldb : j), ldb: ldb, beta: beta, c: c + j, ldc: ldc)
            }
        case .kSplit:
            let parts = min(pool.width, k)
            guard parts > 1, !pool.isRunningJob else {
                return GEMMSplit.serial.run(pool: pool, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                            a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
            }
            // Slice 0 goes into C with beta; the others into their own partials (beta 0).
            let count = (parts - 1) * m * n
            let owned: UnsafeMutablePointer<Float>? = workspace == nil ? .allocate(capacity: count) : nil
            defer { owned?.deallocate() }
            guard let partials = owned ?? workspace?.floats(count) else { return }
            pool.parallelFor(parts, perThread: 1) { _, slices in
                for t in slices {
                    let depth = WorkerPool.range(t, of: parts, count: k)
                    let k0 = depth.lowerBound
                    sgemm(transA: transA, transB: transB, m: m, n: n, k: depth.count, alpha: alpha,
                          a: a + (transA ? k0 * lda : k0), lda: lda, b: b + (transB ? k0 : k0 * ldb), ldb: ldb,
                          beta: t == 0 ? beta : 0, c: t == 0 ? c : partials + (t - 1) * m * n, ldc: t == 0 ? ldc : n)
                }
            }
            pool.parallelFor(m, grain: max(1, WorkerPool.memoryBoundMinimumWork / max(n * parts, 1)), perThread: 1) { _, rows in
                for i in rows {
                    let row = c + i * ldc
                    for t in 1..<parts {
                        let partial = partials + (t - 1) * m * n + i * n
                        for j in 0..<n { row[j] += partial[j] }
                    }
                }
            }
        }
    }
}

/// Multiply-adds below which a product is not worth a dispatch (about 10 µs of work).
let parallelGemmWork = 1 << 19
/// Rows and columns per block of a split product, so each block keeps the micro-kernels full.
let gemmRowBlock = 8
let gemmColumnBlock = 16

/// `matmul(a, b) {transpose_a, transpose_b}` (and `fused_matmul`'s, with a bias as the third
/// input and an "activation" attribute) with a [..., M, K] and b [K, N] or [..., K, N].
/// A 2-D b against an untransposed a is one GEMM over all leading rows ([B,T,K]·[K,N] is a
/// (B*T)xK product), split over the pool; otherwise one GEMM per leading index, the leading
/// indices split over the pool.
func matmulForward(_ c: KernelContext) {
    let a = c.inputs[0], b = c.inputs[1], y = c.output
    let ta = c.attributes[.transposeA] ?? false, tb = c.attributes[.transposeB] ?? false
    let ar = a.shape.count, br = b.shape.count
    guard ar >= 2, br >= 2 else { return }
    let m = ta ? a.shape[ar - 1] : a.shape[ar - 2], k = ta ? a.shape[ar - 2] : a.shape[ar - 1]
    let n = tb ? b.shape[br - 2] : b.shape[br - 1]
    let batch = m * n > 0 ? y.count / (m * n) : 0
    let lda = ta ? m : k, ldb = tb ? k : n
    if br == 2 && !ta {
        thinOrWholeMatmul(pool: c.pool, workspace: c.workspace, a: a.f32, b: b.f32, y: y.f32, m: batch * m, n: n, k: k, transB: tb)
        if c.inputs.count == 3 { addRowBias(c, rows: batch * m, columns: n) }
        return
    }
    let bStep = br == 2 ? 0 : k * n
    if batch == 1 {
        // One product (a weight gradient, xᵀ·dy): split the product itself.
        sgemm(pool: c.pool, transA: ta, transB: tb, m: m, n: n, k: k, a: a.f32, lda: lda, b: b.f32, ldb: ldb, c: y.f32, ldc: n)
        if c.inputs.count == 3 { addRowBias(c, rows: m, columns: n) }
        return
    }
    func products(_ items: Range<Int>) {
        for i in items {
            sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a.f32 + i * m * k, lda: lda, b: b.f32 + i * bStep, ldb: ldb,
                  c: y.f32 + i * m * n, ldc: n)
        }
    }
    let grain = WorkerPool.grain(itemCost: m * n * k)
    if (m == 1 || n == 1) && bStep != 0 {
        // Per-example mat-vecs over a per-example matrix (attention's context and its
        // gradient over the features): each matrix is read once, so keep each example's on
        // the same core from op to op.
        c.pool.parallelForByCore(batch, grain: grain, products)
    } else {
        c.pool.parallelFor(batch, grain: grain) { _, items in products(items) }
    }
    if c.inputs.count == 3 { addRowBias(c, rows: batch * m, columns: n) }
}

/// `fused_matmul`'s epilogue, `activation(y + bias)` with bias [N] on every row, rows split
/// over the pool.
private func addRowBias(_ c: KernelContext, rows: Int, columns n: Int) {
    let y = c.output.f32, bias = c.inputs[2].f32, relu = c.attributes[.activation] == "relu"
    c.pool.parallelFor(rows, grain: max(1, c.pool.memoryBoundGrain / max(n, 1))) { _, rows in
        addRowBias(y + rows.lowerBound * n, rows: rows.count, columns: n, bias: bias, relu: relu)
    }
}
