import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/ContractRows.swift.

extension ContractRowsOp: KernelOp {
    /// One GEMM: the leading axes of both operands are one K axis in row-major memory,
    /// result = aᵀ b. OpenBLAS runs one thread per call, so for the largest products of a
    /// decoder's backward pass (the encoder projection's and the LSTM's weight gradients) the
    /// product is cut into a fixed number of blocks of the result shared out over the pool
    /// (`ContractRowsSplit`, chosen by the tuner per shape).
    public static func kernel(_ c: KernelContext) {
        let a = c.inputs[0], b = c.inputs[1], y = c.output
        guard let m = a.shape.last, let n = b.shape.last else { return }
        let k = m > 0 ? a.count / m : 0
        contractRows(pool: c.pool, a: a.f32, b: b.f32, y: y.f32, m: m, n: n, k: k)
    }
}

/// `y[m, n] = a[k, m]ᵀ b[k, n]` in the split the tuner chose for the shape (the fixed rule
/// `ContractRowsSplit.byShape` with tuning off, or inside another job's chunk).
func contractRows(pool: WorkerPool, a: UnsafePointer<Float>, b: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                  m: Int, n: Int, k: Int) {
    let fixed = ContractRowsSplit.byShape(m: m, n: n, k: k)
    let offered = ContractRowsSplit.allCases.filter { $0 != fixed && $0.applies(m: m, n: n, k: k) }
    guard pool.width > 1, !offered.isEmpty, pool.tuner.mode != .off, !pool.isRunningJob else {
        return fixed.run(pool: pool, a: a, b: b, y: y, m: m, n: n, k: k)
    }
    let key = TuningKey(point: "contract-rows-split", shapes: [[k, m], [k, n]], threads: pool.width)
    pool.tuner.run(key, ([fixed] + offered).map { split in
        KernelVariant(split.rawValue) { split.run(pool: pool, a: a, b: b, y: y, m: m, n: n, k: k) }
    })
}

/// The ways `contract_rows` shares its product out: whole, or as two blocks of the result's
/// rows or columns, each one OpenBLAS call that writes its own part of y. The blocks depend on
/// the shape alone, never on the thread count, so a split gives the same bits at any thread
/// count (two threads run a block each, one thread both in turn); OpenBLAS may round a block
/// differently from the whole product (its kernels for the edges of a block), so the splits
/// can differ from one another in the last bits.
enum ContractRowsSplit: String, CaseIterable {
    /// One call.
    case whole
    /// Rows of the result (a's columns) in two blocks: each packs all of b, half of a.
    case rows2 = "rows-2"
    /// Columns of the result (b's columns) in two blocks: each packs all of a, half of b.
    case columns2 = "columns-2"

    /// The fixed rule: whole for a product not worth a dispatch, else two blocks of the
    /// longer side of the result, so the operand cut in half is the larger one.
    static func byShape(m: Int, n: Int, k: Int) -> ContractRowsSplit {
        guard m * n * k >= parallelGemmWork else { return .whole }
        if columns2.applies(m: m, n: n, k: k) && n >= m { return .columns2 }
        return rows2.applies(m: m, n: n, k: k) ? .rows2 : .whole
    }

    /// Whether the split makes two non-empty blocks of whole register blocks.
    func applies(m: Int, n: Int, k: Int) -> Bool {
        switch self {
        case .whole: true
        case .rows2: m >= 2 * gemmRowBlock && k > 0
        case .columns2: n >= 2 * gemmColumnBlock && k > 0
        }
    }

    /// Where the second block starts: half the side, rounded up to a whole register block.
    static func half(_ side: Int, block: Int) -> Int { min(side, (side / 2 + block - 1) / block * block) }

    func run(pool: WorkerPool, a: UnsafePointer<Float>, b: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
             m: Int, n: Int, k: Int) {
        switch self {
        case .whole:
            sgemm(transA: true, m: m, n: n, k: k, a: a, lda: m, b: b, ldb: n, c: y, ldc: n)
        case .rows2:
            let cut = ContractRowsSplit.half(m, block: gemmRowBlock)
            pool.parallelFor(2, perThread: 1) { _, blocks in
                for block in blocks {
                    let i = block == 0 ? 0 : cut, rows = block == 0 ? cut : m - cut
                    sgemm(transA: true, m: rows, n: n, k: k, a: a + i, lda: m, b: b, ldb: n, c: y + i * n, ldc: n)
                }
            }
        case .columns2:
            let cut = ContractRowsSplit.half(n, block: gemmColumnBlock)
            pool.parallelFor(2, perThread: 1) { _, blocks in
                for block in blocks {
                    let j = block == 0 ? 0 : cut, columns = block == 0 ? cut : n - cut
                    sgemm(transA: true, m: m, n: columns, k: k, a: a, lda: m, b: b + j, ldb: n, c: y + j, ldc: n)
                }
            }
        }
    }
}
