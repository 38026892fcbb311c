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

/// `matmul(a, b) {transpose_a, transpose_b}` with a [..., M, K] and b [K, N] or [..., K, N].
/// A 2-D b against an untransposed a is one GEMM over all leading rows ([B,T,K]·[K,N] is a
/// (B*T)xK product); otherwise one GEMM per leading index.
func matmulForward(_ c: KernelContext) {
    let a = c.inputs[0], b = c.inputs[1], y = c.output
    let ta = c.attributes.bool("transpose_a") ?? false, tb = c.attributes.bool("transpose_b") ?? false
    let ar = a.shape.count, br = b.shape.count
    guard ar >= 2, br >= 2 else { return }
    let m = ta ? a.shape[ar - 1] : a.shape[ar - 2], k = ta ? a.shape[ar - 2] : a.shape[ar - 1]
    let n = tb ? b.shape[br - 2] : b.shape[br - 1]
    let batch = m * n > 0 ? y.count / (m * n) : 0
    let lda = ta ? m : k, ldb = tb ? k : n
    if br == 2 && !ta {
        sgemm(transB: tb, m: batch * m, n: n, k: k, a: a.f32, lda: lda, b: b.f32, ldb: ldb, c: y.f32, ldc: n)
        return
    }
    let bStep = br == 2 ? 0 : k * n
    for i in 0..<batch {
        sgemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a.f32 + i * m * k, lda: lda, b: b.f32 + i * bStep, ldb: ldb,
              c: y.f32 + i * m * n, ldc: n)
    }
}
