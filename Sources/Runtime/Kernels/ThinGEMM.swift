import CConvKernels
import GraphIR

// Products of a few rows (a decoder step at batch 8, a dense layer at batch 64) by a weight
// matrix. OpenBLAS packs both operands of every sgemm it runs through its blocked kernel, and
// for an 8-row product packing the weight costs as much as the arithmetic (at 64 rows it
// still shows). Some OpenBLAS builds (its AVX-512 kernels) have small-matrix kernels that
// skip the packing, but take only small enough products, so splitting the product into
// column blocks that qualify can win; elsewhere the split only adds calls. Our own kernel
// (thin_product_kernels.h) reads the weight where it lies on every CPU. Which wins is
// measured per shape (`thin-matmul`), never inferred from the CPU's or OpenBLAS's name; with
// tuning off the product goes whole to OpenBLAS.

/// Whether OpenBLAS's small-matrix permit rule (its SkylakeX one) admits a row-major
/// m x n x k product: m n k below 10^6, and for a·bᵀ (column-major TN) at most 1200 results
/// and k of 32 or more. Only used to size the column blocks worth trying.
@inline(__always)
func smallKernelTakes(m: Int, n: Int, k: Int, transB: Bool) -> Bool {
    m * n * k < 1_000_000 && (!transB || (m * n <= 1200 && k >= 32))
}

/// Rows of a thin product: at most this many are split by columns. Measured on Zen 4 at 64
/// rows (the CNN's dense layer at batch 64, 64 x 1152 by a 600 x 1152 weight either way), our
/// AVX-512 kernel beats the whole OpenBLAS product by 15 to 20% on one or two cores; with
/// AVX2 against OpenBLAS's Haswell kernels it wins the NN form by 6% and ties the TN form.
/// Where it wins is the tuner's to say. The kernel's TN path keeps the lane partials of up
/// to 64 rows (GC_TN_ROW_BLOCK) per pass over the weight.
let thinRows = 64

/// `y = a op(b)` for a row-major a [m, k] and a 2-D b: as one product split over the pool
/// (`sgemm(pool:)`), or, for thin products (m <= thinRows) where the tuner measured it
/// faster (or a whole training step did, `input-gradient-split-train`), by our own kernel
/// over column blocks (`unpacked`) or over slices of k (`k-split-N`, partials in
/// `workspace`), or as independent OpenBLAS column blocks, each shared out over the pool.
func thinOrWholeMatmul(pool: WorkerPool, workspace: Workspace, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                       y: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, transB: Bool) {
    let ldb = transB ? k : n
    func whole() { sgemm(pool: pool, transB: transB, m: m, n: n, k: k, a: a, lda: k, b: b, ldb: ldb, c: y, ldc: n, workspace: workspace) }
    guard let variants = thinMatmulVariants(m: m, n: n, k: k, transB: transB, width: pool.width), pool.tuner.mode != .off,
          !pool.isRunningJob else { return whole() }
    let key = thinMatmulKey(m: m, n: n, k: k, transB: transB, threads: pool.width)
    pool.tuner.run(key, variants.map { variant in
        switch variant {
        case .whole: return KernelVariant(variant.name, run: whole)
        case .unpacked:
            return KernelVariant(variant.name) { thinMatmulUnpacked(pool: pool, a: a, b: b, y: y, m: m, n: n, k: k, transB: transB) }
        case .columns(let block, let fullOnly):
            return KernelVariant(variant.name, fullOnly: fullOnly) {
                thinMatmulColumns(pool: pool, a: a, b: b, y: y, m: m, n: n, k: k, transB: transB, block: block)
            }
        case .splitK(let parts):
            return KernelVariant(variant.name) {
                thinMatmulSplitK(pool: pool, workspace: workspace, a: a, b: b, y: y, m: m, n: n, k: k, parts: parts)
            }
        }
    })
}

/// The tuner's key for a thin product's choice (`thin-matmul`).
func thinMatmulKey(m: Int, n: Int, k: Int, transB: Bool, threads: Int) -> TuningKey {
    TuningKey(point: "thin-matmul", shapes: [[m, k], [k, n]], detail: transB ? "tb" : "", threads: threads)
}

/// A product of an executor's graph that can run split over a weight's rows, the rows each
/// core's share of the weight update writes: its choice's key, the variant that splits it so
/// (`byWeightRows`), and every variant's name (the default first).
public struct WeightRowSplitCandidate: Sendable {
    public let key: TuningKey
    public let byWeightRows: String
    public let variants: [String]
}

extension Executor {
    /// The products of the last run that a whole-step choice can split over b's rows, each
    /// key once, in graph order (`matmul` or `fused_matmul`, a untransposed, b 2-D), on a pool
    /// of more than one thread; empty before any run:
    /// - thin products a·b (up to `thinRows` rows) for which `thin-matmul` offers `k-split-N`
    ///   (`thinMatmulSplitK`), whatever b is;
    /// - larger products a·W of a parameter W, split over k (`GEMMSplit.kSplit`), such as a
    ///   caption decoder's input gradients over all its steps at once, dgates·W_ih;
    /// - larger products x·Wᵀ of a parameter W, split by the columns of the result
    ///   (`GEMMSplit.columns`), which are W's rows: the forward products of those weights.
    public var weightRowSplitCandidates: [WeightRowSplitCandidate] {
        guard let shapes = lastShapes, pool.width > 1 else { return [] }
        var seen = Set<TuningKey>(), found: [WeightRowSplitCandidate] = []
        func add(_ key: TuningKey, _ byWeightRows: String, _ variants: [String]) {
            if seen.insert(key).inserted { found.append(WeightRowSplitCandidate(key: key, byWeightRows: byWeightRows, variants: variants)) }
        }
        let splits = GEMMSplit.allCases.map(\.rawValue)
        for node in graph.nodes where (node.op == .matmul || node.op == .fusedMatmul) && node.inputs.count >= 2 {
            guard !(node.attributes[.transposeA] ?? false), node.inputs[0].id < shapes.count, node.inputs[1].id < shapes.count else { continue }
            let transB = node.attributes[.transposeB] ?? false
            let a = shapes[node.inputs[0].id], b = shapes[node.inputs[1].id]
            guard a.count >= 2, b.count == 2, let k = a.last, k == b[transB ? 1 : 0] else { continue }
            let m = a.dropLast().reduce(1, *), n = b[transB ? 0 : 1]
            if let variants = thinMatmulVariants(m: m, n: n, k: k, transB: transB, width: pool.width) {
                if let split = variants.first(where: { if case .splitK = $0 { return true } else { return false } }) {
                    add(thinMatmulKey(m: m, n: n, k: k, transB: transB, threads: pool.width), split.name, variants.map(\.name))
                }
                continue
            }
            // Products that go whole through `sgemm(pool:)`, split there when they are big enough.
            guard m > thinRows, n > 1, m * n * k >= parallelGemmWork, graph.nodes[node.inputs[1].id].op == .param else { continue }
            let key = gemmSplitKey(pool: pool, transA: false, transB: transB, m: m, n: n, k: k)
            if transB {
                add(key, GEMMSplit.columns.rawValue, splits)
            } else if k >= pool.width * thinSplitKMinimumDepth {
                add(key, GEMMSplit.kSplit.rawValue, splits)
            }
        }
        return found
    }
}

/// The ways a thin product can run, as the tuner names them.
enum ThinMatmulVariant: Equatable {
    /// One OpenBLAS product, split over the pool (the default).
    case whole
    /// Our own kernel (`gc_thin_product`), column blocks over the pool.
    case unpacked
    /// OpenBLAS column blocks of `block` columns; `fullOnly`: timed only by `--tune full`.
    case columns(block: Int, fullOnly: Bool)
    /// Our kernel over `parts` slices of k, one per thread, the partial products then summed
    /// (`thinMatmulSplitK`); a·b only.
    case splitK(parts: Int)

    var name: String {
        switch self {
        case .whole: return "whole"
        case .unpacked: return "unpacked"
        case .columns(let block, _): return "columns-\(block)"
        case .splitK(let parts): return "k-split-\(parts)"
        }
    }
}

/// What the tuner times for a product on a pool of `width` threads, the default first; nil
/// when it is not thin (or too small to be worth timing), so that it always goes whole.
func thinMatmulVariants(m: Int, n: Int, k: Int, transB: Bool, width: Int = 1) -> [ThinMatmulVariant]? {
    guard m >= 1, m <= thinRows, n > 1, k > 0, m * n * k >= thinProductMinimumWork else { return nil }
    let blocks = thinColumnBlocks(m: m, n: n, k: k, transB: transB)
    let splitK: [ThinMatmulVariant] = !transB && width > 1 && k >= width * thinSplitKMinimumDepth ? [.splitK(parts: width)] : []
    return [.whole, .unpacked] + splitK + blocks.enumerated().map { .columns(block: $1, fullOnly: $0 > 0) }
}

/// The fewest rows of b per part of a k-split product: below that the partial sums cost more
/// than the product.
let thinSplitKMinimumDepth = 64

/// Multiply-adds below which a thin product is not worth timing (a few µs of work).
let thinProductMinimumWork = 1 << 16

/// Columns per block when our kernel's product is shared out over the pool: a multiple of
/// every instruction set's lanes, so every block but the last stays on the vector path, and
/// small, so the threads' shares come out even (600 columns in blocks of 64 went 320 / 280
/// over two threads). Each thread's share is one call, its tiles as wide as ever. The bits
/// do not depend on the blocks (each output is one sum, in an order set by k).
let thinKernelColumnBlock = 16

/// `y = a op(b)` by `gc_thin_product`, column blocks of `thinKernelColumnBlock` shared out
/// over `pool` in one run per thread of at least `parallelGemmWork` multiply-adds. The runs
/// go to the same cores product after product (`parallelForByCore`), so each core keeps its
/// part of a recurrent weight in its own cache from one unrolled step to the next.
func thinMatmulUnpacked(pool: WorkerPool, a: UnsafePointer<Float>, b: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                        m: Int, n: Int, k: Int, transB: Bool) {
    let block = thinKernelColumnBlock
    let blocks = (n + block - 1) / block
    pool.parallelForByCore(blocks, grain: max(1, parallelGemmWork / max(1, m * k * block))) { range in
        gc_thin_product(a, b, y, m, n, k, transB ? 1 : 0, range.lowerBound * block, min(range.upperBound * block, n))
    }
}

/// Column block widths worth timing for a thin product, the most promising first: the
/// widest power of two the small-matrix rule admits (at least 16), then half and twice it.
/// Empty when the product is not thin, or small enough to go whole through any kernel.
func thinColumnBlocks(m: Int, n: Int, k: Int, transB: Bool) -> [Int] {
    guard m > 1, m <= thinRows, n > 1, k > 0, !smallKernelTakes(m: m, n: n, k: k, transB: transB) else { return [] }
    var block = 1
    while block * 2 <= n && smallKernelTakes(m: m, n: block * 2, k: k, transB: transB) { block *= 2 }
    block = max(block, 16)
    return [block, block / 2, block * 2].filter { $0 >= 8 && $0 < n }
}

/// `y = a op(b)` as column blocks of `block` columns, one OpenBLAS call each, shared out
/// over `pool`. Each block writes its own columns of y.
func thinMatmulColumns(pool: WorkerPool, a: UnsafePointer<Float>, b: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                       m: Int, n: Int, k: Int, transB: Bool, block: Int) {
    let ldb = transB ? k : n
    let blocks = (n + block - 1) / block
    pool.parallelFor(blocks, perThread: 1) { _, range in
        for index in range {
            let start = index * block, width = min(block, n - start)
            sgemm(transB: transB, m: m, n: width, k: k, a: a, lda: k, b: transB ? b + start * k : b + start, ldb: ldb,
                  c: y + start, ldc: n)
        }
    }
}

/// `y = a·b` (b [k, n]) as `parts` products over consecutive slices of k, part p (b's rows
/// `range(p, of: parts, count: k)`) on the pool's thread for core p, each into its own partial
/// (part 0 straight into y), then y's rows summed in part order, rows split by core.
///
/// Why: in a dense layer's input gradient dy·W the forward product (x·Wᵀ, split by W's rows
/// over cores) and the weight update (split by W's rows) leave each core with its own rows of
/// W in its cache; splitting dy·W by columns instead has each core read half of the other's
/// rows, and the next update then waits on every line the other core read. When the host
/// placed the two vCPUs on different core complexes, the CNN's head.1 update at batch 64 took
/// 0.73 ms after a column split and 0.46 ms after this one (Zen 4, session 15, few such
/// runs). Timed alone, where no update follows, it is about 3% slower than the column split
/// (its partials: `parts - 1` [m, n] products of scratch and one pass to add them), so whether
/// a training step's products run this way is timed on the whole step
/// (`input-gradient-split-train`), not product by product. The rows of y
/// land on the cores that read them by image. The bits depend on `parts` (the sum's order),
/// never on which thread ran a part.
func thinMatmulSplitK(pool: WorkerPool, workspace: Workspace, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                      y: UnsafeMutablePointer<Float>, m: Int, n: Int, k: Int, parts: Int) {
    guard parts > 1 else { return gc_thin_product_strided(a, k, b, y, m, n, k, 0, n) }
    let partials = workspace.floats((parts - 1) * m * n)
    pool.parallelFor(parts, perThread: 1) { _, slices in
        for part in slices {
            let depth = WorkerPool.range(part, of: parts, count: k), out = part == 0 ? y : partials + (part - 1) * m * n
            if depth.isEmpty { out.update(repeating: 0, count: m * n); continue }
            gc_thin_product_strided(a + depth.lowerBound, k, b + depth.lowerBound * n, out, m, n, depth.count, 0, n)
        }
    }
    addPartials(pool: pool, y: y, partials: partials, parts: parts, m: m, n: n)
}

/// `y += Σ partials[p]` for the `parts - 1` [m, n] partials of a product split over k (part 0
/// was written to y), in part order, y's rows split by core: the rows land on the cores that
/// read them by image.
func addPartials(pool: WorkerPool, y: UnsafeMutablePointer<Float>, partials: UnsafePointer<Float>, parts: Int, m: Int, n: Int) {
    guard parts > 1 else { return }
    pool.parallelFor(m, perThread: 1) { _, rows in
        let first = rows.lowerBound * n, count = rows.count * n
        for part in 1..<parts {
            let partial = partials + (part - 1) * m * n + first, out = y + first
            for i in 0..<count { out[i] += partial[i] }
        }
    }
}

/// The slices of k that the thin product a·b (a [m, k], b [k, n]) runs in as chosen for this
/// process (`k-split-N`: N), or 1 for any other choice, none yet, or tuning off. For a kernel
/// that runs the same product its own way and splits it as the product's choice says: the
/// weight update fused with the input gradient dy·W (`FusedWeightUpdate`).
func thinMatmulSplitParts(pool: WorkerPool, m: Int, n: Int, k: Int) -> Int {
    guard pool.width > 1, let variants = thinMatmulVariants(m: m, n: n, k: k, transB: false, width: pool.width),
          let chosen = pool.tuner.recall(thinMatmulKey(m: m, n: n, k: k, transB: false, threads: pool.width), variants: variants.map(\.name)),
          case .splitK(let parts)? = variants.first(where: { $0.name == chosen }) else { return 1 }
    return parts
}
