import GraphIR
import CBLAS

// Products of a few rows (a decoder step at batch 8) by a weight matrix. OpenBLAS packs both
// operands of every sgemm it runs through its blocked kernel, and for an 8-row product
// packing the weight costs as much as the arithmetic. On AVX-512 cores OpenBLAS also has
// small-matrix kernels that skip the packing, but it only takes them for small enough
// products, so the product is split into column blocks that qualify. On cores without
// those kernels splitting only adds calls, so it is not done there. (Measurements:
// bench/RESULTS.md.)

/// Whether this OpenBLAS runs AVX-512 kernels, which come with its small-matrix sgemm.
let blasHasSmallMatrixKernels: Bool = {
    guard let p = openblas_get_corename() else { return false }
    return ["skylakex", "cooperlake", "sapphirerapids"].contains(String(cString: p).lowercased())
}()

/// Whether OpenBLAS (SkylakeX's permit rule) runs a row-major m x n x k product through its
/// small-matrix kernel: m n k below 10^6, and for a·bᵀ (column-major TN) at most 1200
/// results and k of 32 or more.
@inline(__always)
func smallKernelTakes(m: Int, n: Int, k: Int, transB: Bool) -> Bool {
    m * n * k < 1_000_000 && (!transB || (m * n <= 1200 && k >= 32))
}

/// Rows of a thin product: at most this many are split by columns.
let thinRows = 16

/// `y = a op(b)` for a row-major a [m, k] (m <= thinRows) and a 2-D b, as column blocks the
/// small-matrix kernel takes, when OpenBLAS has one and the whole product is too large for
/// it. Returns false (nothing written) when the product is not such a case.
/// The blocks are independent, so they are shared out over `pool`.
func thinMatmul(pool: WorkerPool, a: UnsafePointer<Float>, b: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                m: Int, n: Int, k: Int, transB: Bool) -> Bool {
    guard blasHasSmallMatrixKernels, m > 1, m <= thinRows, n > 1, k > 0,
          !smallKernelTakes(m: m, n: n, k: k, transB: transB) else { return false }
    var block = 1
    while block * 2 <= n && smallKernelTakes(m: m, n: block * 2, k: k, transB: transB) { block *= 2 }
    guard block >= 32 || (block >= 16 && k > 1024) else { return false }
    let ldb = transB ? k : n
    let blocks = (n + block - 1) / block
    pool.parallelFor(blocks, perThread: 1) { _, range in
        for index in range {
            let start = index * block, width = min(block, n - start)
            sgemm(transB: transB, m: m, n: width, k: k, a: a, lda: k, b: transB ? b + start * k : b + start, ldb: ldb,
                  c: y + start, ldc: n)
        }
    }
    return true
}
