import CConvKernels
import GraphIR
@testable import Runtime
import XCTest

/// Our thin-product kernel (`gc_thin_product`, the tuner's `unpacked` at `thin-matmul`)
/// against a naive product on every instruction set, at sizes that leave every tile partial,
/// and the same bits whatever columns each call (or thread) computes.
final class KernelThinProductUnpackedTests: XCTestCase {
    let data = TestData(seed: 41)

    override func tearDown() { VectorISA.limit(to: nil) }

    func reference(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int, tb: Bool) -> (sums: [Double], magnitudes: [Double]) {
        var sums = [Double](repeating: 0, count: m * n), magnitudes = sums
        for i in 0..<m {
            for j in 0..<n {
                for p in 0..<k {
                    let t = Double(a[i * k + p]) * Double(tb ? b[j * k + p] : b[p * n + j])
                    sums[i * n + j] += t
                    magnitudes[i * n + j] += abs(t)
                }
            }
        }
        return (sums, magnitudes)
    }

    /// `gc_thin_product` over columns [begin, end) of each split, into one y.
    func product(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int, tb: Bool, splits: [Int]) -> [Float] {
        var y = [Float](repeating: .nan, count: m * n)
        a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
            for (begin, end) in zip([0] + splits, splits + [n]) where begin < end {
                gc_thin_product(pa.baseAddress!, pb.baseAddress!, py.baseAddress!, m, n, k, tb ? 1 : 0, begin, end)
            }
        } } }
        return y
    }

    /// `gc_thin_product` of every row count by every (n, k), both forms, against the naive
    /// product on every instruction set.
    func assertMatchesTheNaiveProduct(rows: [Int], sizes: [(n: Int, k: Int)]) {
        let best = VectorISA.limit(to: nil)
        for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
            XCTAssertEqual(VectorISA.limit(to: isa), isa)
            for tb in [false, true] {
                for m in rows {
                    for (n, k) in sizes {
                        let a = data.floats([m, k]).floats, b = data.floats(tb ? [n, k] : [k, n]).floats
                        let (want, magnitude) = reference(a, b, m: m, k: k, n: n, tb: tb)
                        let y = product(a, b, m: m, k: k, n: n, tb: tb, splits: [])
                        for i in y.indices where !(abs(Double(y[i]) - want[i]) <= 1e-5 * (magnitude[i] + 1)) {
                            XCTFail("\(isa) tb \(tb) \(m)x\(k)x\(n): [\(i)] \(y[i]) vs \(want[i])")
                            break
                        }
                    }
                }
            }
        }
    }

    /// Rows 1 to 16 (every partial row tile), widths below, between and above the lane
    /// counts and not multiples of them, k odd (a tail of k on every ISA), 1, and a multiple
    /// of every lane count (no tail: whole rows of outputs stored at once).
    func testEveryRowCountAndOddSizesMatchTheNaiveProductOnEveryInstructionSet() {
        assertMatchesTheNaiveProduct(rows: Array(1...16), sizes: [(3, 19), (21, 1), (67, 131), (50, 33), (37, 64)])
    }

    /// Rows past 16 (a dense layer at batch 64, and 70, past the TN path's 64-row block), k
    /// over one to three of its blocks of k (384) ending on, before or past a block's end,
    /// with and without a tail, odd widths.
    func testManyRowsAndLongRowsMatchTheNaiveProductOnEveryInstructionSet() {
        assertMatchesTheNaiveProduct(rows: [17, 33, 64, 70], sizes: [(37, 1000), (21, 777), (23, 385), (19, 1152), (5, 13)])
    }

    /// AVX2's and SSE2's untransposed form past one tile of rows reads b through a copy made by
    /// blocks of k (NN_PACKS): k ending on a block's end (256 and 512 rows of b on AVX2), one
    /// before and one past it, and strides of 4 KB (1024 columns).
    func testCopiedPanelsOfBMatchTheNaiveProductOnEveryInstructionSet() {
        assertMatchesTheNaiveProduct(rows: [7, 8, 12, 13, 25], sizes: [(1024, 256), (40, 512), (33, 255), (17, 257), (256, 768),
                                                                        (21, 341), (9, 342), (40, 682)])
    }

    /// On every instruction set, the rows of one call past a tile (tiles reading b through the
    /// copy, rows shared among them) have the bits of each row alone (one tile, b read where it
    /// lies), a's rows read through `gc_thin_product_strided`.
    func testCopiedPanelsGiveTheBitsOfOneRowAtATime() {
        let best = VectorISA.limit(to: nil)
        for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
            VectorISA.limit(to: isa)
            for (m, k, n) in [(13, 700, 40), (25, 768, 33), (8, 512, 256), (64, 341, 17)] {
                let a = data.floats([m, k]).floats, b = data.floats([k, n]).floats
                let whole = product(a, b, m: m, k: k, n: n, tb: false, splits: [])
                var rows = [Float](repeating: .nan, count: m * n)
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in rows.withUnsafeMutableBufferPointer { py in
                    for i in 0..<m { gc_thin_product_strided(pa.baseAddress! + i * k, k, pb.baseAddress!, py.baseAddress! + i * n, 1, n, k, 0, n) }
                } } }
                XCTAssertEqual(whole, rows, "\(isa) \(m)x\(k)x\(n)")
            }
        }
    }

    /// The copy changes no sum: AVX2 and AVX-512 both sum each output with fused multiply-adds
    /// over k in order, so where the CPU has both, AVX2 (which reads b through its copy past
    /// one tile of rows) gives AVX-512's bits (which reads b where it lies up to 8 rows).
    func testCopiedPanelsGiveTheBitsOfReadingBInPlace() throws {
        try XCTSkipUnless(VectorISA.best == .avx512, "needs AVX-512 beside AVX2")
        for (m, k, n) in [(8, 512, 256), (7, 1000, 37), (13, 257, 1024), (64, 600, 83)] {
            let a = data.floats([m, k]).floats, b = data.floats([k, n]).floats
            VectorISA.limit(to: .avx512)
            let inPlace = product(a, b, m: m, k: k, n: n, tb: false, splits: [])
            VectorISA.limit(to: .avx2)
            XCTAssertEqual(product(a, b, m: m, k: k, n: n, tb: false, splits: []), inPlace, "\(m)x\(k)x\(n)")
            XCTAssertEqual(product(a, b, m: m, k: k, n: n, tb: false, splits: [5, 22, 23]), inPlace, "\(m)x\(k)x\(n) by blocks")
        }
    }

    /// An empty k (a k-split's empty part, were it to reach the kernel) gives zeros on every
    /// instruction set, both forms, past one tile of rows too, rather than leaving y as it was.
    func testEmptyKGivesZeros() {
        let best = VectorISA.limit(to: nil)
        for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
            VectorISA.limit(to: isa)
            for m in [3, 13] {
                let one: [Float] = [1]
                for tb: Int32 in [0, 1] {
                    var y = [Float](repeating: .nan, count: m * 40)
                    one.withUnsafeBufferPointer { p in y.withUnsafeMutableBufferPointer { py in
                        gc_thin_product(p.baseAddress!, p.baseAddress!, py.baseAddress!, m, 40, 0, tb, 0, 40)
                    } }
                    XCTAssertEqual(y, [Float](repeating: 0, count: m * 40), "\(isa) \(m) rows, trans_b \(tb)")
                }
            }
        }
    }

    /// Any split of the columns gives the same bits: one call, every column alone, and blocks
    /// cut off the lane grid (so the untransposed form's last vector is shifted back).
    func testColumnSplitsGiveTheSameBits() {
        let best = VectorISA.limit(to: nil)
        for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
            VectorISA.limit(to: isa)
            for tb in [false, true] {
                for (m, k, n) in [(7, 45, 83), (64, 1000, 83)] {
                    let a = data.floats([m, k]).floats, b = data.floats(tb ? [n, k] : [k, n]).floats
                    let whole = product(a, b, m: m, k: k, n: n, tb: tb, splits: [])
                    let what = "\(isa) tb \(tb) \(m) rows"
                    XCTAssertEqual(product(a, b, m: m, k: k, n: n, tb: tb, splits: Array(1..<n)), whole, "\(what) by column")
                    XCTAssertEqual(product(a, b, m: m, k: k, n: n, tb: tb, splits: [5, 22, 23, 60]), whole, "\(what) odd blocks")
                }
            }
        }
    }

    /// The decoders' recurrent products and dense layers at batch 33 and 64 through the pool at
    /// 1, 2 and 3 threads: the chunks really split, and the bits are those of one serial call.
    func testThreadsGiveTheSameBitsAsOneCall() {
        let best = VectorISA.limit(to: nil)
        for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
            VectorISA.limit(to: isa)
            for (m, k, n, tb) in [(8, 256, 1024, true), (8, 1024, 256, false), (5, 1000, 700, false), (64, 800, 201, true),
                                  (33, 500, 701, false)] {
                let a = data.floats([m, k]).floats, b = data.floats(tb ? [n, k] : [k, n]).floats
                let serial = product(a, b, m: m, k: k, n: n, tb: tb, splits: [])
                let (want, magnitude) = reference(a, b, m: m, k: k, n: n, tb: tb)
                for i in serial.indices where !(abs(Double(serial[i]) - want[i]) <= 1e-5 * (magnitude[i] + 1)) {
                    XCTFail("\(isa) \(m)x\(k)x\(n) tb \(tb): [\(i)] \(serial[i]) vs \(want[i])")
                    break
                }
                for threads in 1...3 {
                    let pool = WorkerPool(threads: threads, tuner: Tuner(mode: .off))
                    let blocks = (n + thinKernelColumnBlock - 1) / thinKernelColumnBlock
                    let chunks = pool.chunks(blocks, grain: max(1, parallelGemmWork / (m * k * thinKernelColumnBlock)), perThread: 1)
                    XCTAssertEqual(chunks, min(threads, blocks), "\(m)x\(k)x\(n) splits over \(threads) threads")
                    var y = [Float](repeating: .nan, count: m * n)
                    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
                        thinMatmulUnpacked(pool: pool, a: pa.baseAddress!, b: pb.baseAddress!, y: py.baseAddress!, m: m, n: n, k: k,
                                           transB: tb)
                    } } }
                    XCTAssertEqual(y, serial, "\(isa) \(m)x\(k)x\(n) tb \(tb) on \(threads) threads")
                }
            }
        }
    }

    /// A matmul whose tuner chose `unpacked` runs our kernel: the graph's output has the bits of
    /// one serial `gc_thin_product` call (OpenBLAS sums in another order), and the decision
    /// is listed under `thin-matmul`.
    func testMatmulRunsOurKernelWhenTheTunerChoseIt() throws {
        // The decoders' products, and the CNN's dense layer at batch 64 (forward, input gradient).
        for (m, k, n, tb) in [(8, 256, 1024, true), (8, 1024, 256, false), (64, 1152, 600, true), (64, 600, 1152, false)] {
            let a = data.floats([m, k]), b = data.floats(tb ? [n, k] : [k, n])
            let serial = product(a.floats, b.floats, m: m, k: k, n: n, tb: tb, splits: [])
            let tuner = Tuner(mode: .fast)
            let key = TuningKey(point: "thin-matmul", shapes: [[m, k], [k, n]], detail: tb ? "tb" : "", threads: 2)
            tuner.remember(key, variant: ThinMatmulVariant.unpacked.name)
            let builder = GraphBuilder(name: "thin")
            let x = builder.input("x", TensorType(.f32, Shape(known: [m, k])))
            let w = builder.input("w", TensorType(.f32, Shape(known: b.shape)))
            builder.outputs = [("y", try builder.emit(.matmul, [x, w], ["transpose_b": .bool(tb)]))]
            let executor = try Executor(graph: builder.finish(), options: ExecutionOptions(threads: 2, tuner: tuner))
            let y = try XCTUnwrap(try executor.run(feeds: ["x": a, "w": b], parameters: ParameterStore())["y"])
            let differing = zip(y.floats, serial).filter { $0.bitPattern != $1.bitPattern }.count
            XCTAssertEqual(differing, 0, "\(m)x\(k)x\(n) tb \(tb): outputs not our kernel's")
            XCTAssertEqual(tuner.decisions.filter { $0.key.point == "thin-matmul" }.map(\.key), [key], "the executor's key")
        }
    }

    /// The tuner times our kernel next to OpenBLAS for thin products only (up to 64 rows).
    func testOfferedForThinProductsOnly() {
        XCTAssertEqual(thinMatmulVariants(m: 8, n: 1024, k: 256, transB: true),
                       [.whole, .unpacked, .columns(block: 128, fullOnly: false), .columns(block: 64, fullOnly: true),
                        .columns(block: 256, fullOnly: true)])
        XCTAssertEqual(thinMatmulVariants(m: 8, n: 190, k: 100, transB: false), [.whole, .unpacked], "small-matrix kernel takes it whole")
        XCTAssertEqual(thinMatmulVariants(m: 64, n: 600, k: 1152, transB: true),
                       [.whole, .unpacked, .columns(block: 16, fullOnly: false), .columns(block: 8, fullOnly: true),
                        .columns(block: 32, fullOnly: true)], "the CNN's dense layer at batch 64")
        XCTAssertNil(thinMatmulVariants(m: 65, n: 1024, k: 256, transB: true), "not thin")
        XCTAssertNil(thinMatmulVariants(m: 8, n: 16, k: 16, transB: false), "too small to time")
        // On two threads the untransposed form (a dense layer's input gradient dy·W) also
        // splits over k; the transposed form and a k too short for two parts do not.
        XCTAssertEqual(thinMatmulVariants(m: 64, n: 1152, k: 600, transB: false, width: 2),
                       [.whole, .unpacked, .splitK(parts: 2), .columns(block: 16, fullOnly: false),
                        .columns(block: 8, fullOnly: true), .columns(block: 32, fullOnly: true)], "dy·W at batch 64")
        XCTAssertEqual(thinMatmulVariants(m: 64, n: 600, k: 1152, transB: true, width: 2),
                       thinMatmulVariants(m: 64, n: 600, k: 1152, transB: true))
        XCTAssertEqual(thinMatmulVariants(m: 8, n: 4096, k: 100, transB: false, width: 2),
                       thinMatmulVariants(m: 8, n: 4096, k: 100, transB: false))
    }

    /// An executor lists the untransposed thin products a k-split could take, once per key,
    /// from its last run: on 2 threads dy·W at batch 64 (also inside a batch of leading
    /// dimensions, as [2, 32, 600]), never a transposed thin product or a pool of one thread.
    func testExecutorListsItsSplitKCandidates() throws {
        func candidates(_ a: [Int], _ b: [Int], transposeB: Bool = false, threads: Int) throws -> [WeightRowSplitCandidate] {
            let builder = GraphBuilder(name: "dyw")
            let x = builder.input("x", TensorType(.f32, Shape(known: a)))
            let w = builder.input("w", TensorType(.f32, Shape(known: b)))
            let y = try builder.emit(.matmul, [x, w], ["transpose_b": .bool(transposeB)])
            builder.outputs = [("y", y), ("z", try builder.emit(.matmul, [x, w], ["transpose_b": .bool(transposeB)]))]
            let executor = try Executor(graph: builder.finish(), options: ExecutionOptions(threads: threads, tuner: Tuner(mode: .fast)))
            XCTAssertEqual(executor.weightRowSplitCandidates.count, 0, "none before a run")
            _ = try executor.run(feeds: ["x": data.floats(a), "w": data.floats(b)], parameters: ParameterStore())
            return executor.weightRowSplitCandidates
        }
        let found = try candidates([64, 600], [600, 1152], threads: 2)
        XCTAssertEqual(found.map(\.key), [TuningKey(point: "thin-matmul", shapes: [[64, 600], [600, 1152]], detail: "", threads: 2)],
                       "two products, one key")
        XCTAssertEqual(found.first?.byWeightRows, "k-split-2")
        XCTAssertEqual(found.first?.variants.prefix(3), ["whole", "unpacked", "k-split-2"])
        XCTAssertEqual(try candidates([2, 32, 600], [600, 1152], threads: 2).map(\.key.shapes), [[[64, 600], [600, 1152]]])
        XCTAssertEqual(try candidates([64, 600], [1152, 600], transposeB: true, threads: 2).count, 0)
        XCTAssertEqual(try candidates([64, 600], [600, 1152], threads: 1).count, 0)
    }

    /// Products of more rows than a thin one are listed when b is a parameter: a·W (a caption
    /// decoder's input gradient over all its steps, [168, 1024]·[1024, 100]) by its k split
    /// (`GEMMSplit.kSplit`), x·Wᵀ (its forward product) by the columns of the result, W's rows;
    /// the same products of a fed b, too small a product, a k too short to split and a pool
    /// of one thread are not.
    func testExecutorListsLargerProductsOfAWeightByItsRows() throws {
        func candidates(rows: Int, k: Int = 1024, weightIsParameter: Bool = true, threads: Int = 2) throws -> [WeightRowSplitCandidate] {
            let builder = GraphBuilder(name: "decoder-products")
            let type = TensorType(.f32, Shape(known: [k, 100]))
            let w = weightIsParameter ? builder.parameter("w", type, initializer: ["init": .string("zeros")]) : builder.input("w", type)
            let x = builder.input("x", TensorType(.f32, Shape(known: [rows, 100])))
            let dy = builder.input("dy", TensorType(.f32, Shape(known: [rows, k])))
            builder.outputs = [("y", try builder.emit(.matmul, [x, w], ["transpose_b": .bool(true)])),
                               ("dx", try builder.emit(.matmul, [dy, w], [:]))]
            let store = ParameterStore()
            store.set("w", data.floats([k, 100]))
            var feeds = ["x": data.floats([rows, 100]), "dy": data.floats([rows, k])]
            if !weightIsParameter { feeds["w"] = data.floats([k, 100]) }
            let executor = try Executor(graph: builder.finish(), options: ExecutionOptions(threads: threads, tuner: Tuner(mode: .fast)))
            _ = try executor.run(feeds: feeds, parameters: store)
            return executor.weightRowSplitCandidates
        }
        let found = try candidates(rows: 168)
        XCTAssertEqual(found.map(\.key), [TuningKey(point: "gemm-split", shapes: [[168, 100], [100, 1024]], detail: "tb", threads: 2),
                                          TuningKey(point: "gemm-split", shapes: [[168, 1024], [1024, 100]], detail: "", threads: 2)])
        XCTAssertEqual(found.map(\.byWeightRows), ["columns", "k-split"])
        XCTAssertEqual(found.first.map { Set($0.variants) }, Set(GEMMSplit.allCases.map(\.rawValue)))
        XCTAssertEqual(try candidates(rows: 168, weightIsParameter: false).count, 0, "a fed b is no weight the update writes")
        XCTAssertEqual(try candidates(rows: 168, k: 100).map(\.byWeightRows), ["columns"], "k of 100: too short to split on 2 threads")
        XCTAssertEqual(try candidates(rows: 65, k: 64).count, 0, "65 x 64 x 100: below a split product's work")
        XCTAssertEqual(try candidates(rows: 168, threads: 1).count, 0)
    }

    /// `gc_thin_product_strided` over a slice of k (a's columns from k0, rows lda apart; b's
    /// rows from k0) gives the naive product of the slice, on every instruction set, at rows
    /// that leave every tile partial and widths with and without a tail.
    func testStridedSlicesOfKMatchTheNaiveProduct() {
        let best = VectorISA.limit(to: nil)
        for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
            VectorISA.limit(to: isa)
            for (m, k, n, k0, depth) in [(7, 45, 83, 10, 20), (64, 600, 1152, 300, 300), (3, 19, 5, 0, 19), (33, 100, 37, 99, 1)] {
                let a = data.floats([m, k]).floats, b = data.floats([k, n]).floats
                let sliceA = (0..<m).flatMap { i in a[(i * k + k0)..<(i * k + k0 + depth)] }
                let sliceB = Array(b[(k0 * n)..<((k0 + depth) * n)])
                let (want, magnitude) = reference(sliceA, sliceB, m: m, k: depth, n: n, tb: false)
                var y = [Float](repeating: .nan, count: m * n)
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
                    gc_thin_product_strided(pa.baseAddress! + k0, k, pb.baseAddress! + k0 * n, py.baseAddress!, m, n, depth, 0, n)
                } } }
                for i in y.indices where !(abs(Double(y[i]) - want[i]) <= 1e-5 * (magnitude[i] + 1)) {
                    XCTFail("\(isa) \(m)x\(k)x\(n) slice \(k0)+\(depth): [\(i)] \(y[i]) vs \(want[i])")
                    break
                }
                XCTAssertEqual(y, product(sliceA, sliceB, m: m, k: depth, n: n, tb: false, splits: []),
                               "\(isa): a slice read in place is the slice's product")
            }
        }
    }

    /// The k-split product (`k-split-P`) against the naive product, with the same bits on 1, 2
    /// and 3 threads for a given number of parts (the sum's order is the parts', whoever ran
    /// them), including more parts than threads and a part of k that is empty.
    func testSplitKMatchesTheNaiveProductWithBitsSetByItsParts() {
        let workspace = Workspace()
        for (m, k, n, parts) in [(64, 600, 1152, 2), (33, 500, 701, 3), (5, 2, 40, 3), (8, 130, 17, 2)] {
            let a = data.floats([m, k]).floats, b = data.floats([k, n]).floats
            let (want, magnitude) = reference(a, b, m: m, k: k, n: n, tb: false)
            var first: [Float]?
            for threads in 1...3 {
                let pool = WorkerPool(threads: threads, tuner: Tuner(mode: .off))
                var y = [Float](repeating: .nan, count: m * n)
                a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
                    thinMatmulSplitK(pool: pool, workspace: workspace, a: pa.baseAddress!, b: pb.baseAddress!, y: py.baseAddress!,
                                     m: m, n: n, k: k, parts: parts)
                } } }
                let what = "\(m)x\(k)x\(n) in \(parts) parts on \(threads) threads"
                for i in y.indices where !(abs(Double(y[i]) - want[i]) <= 1e-5 * (magnitude[i] + 1)) {
                    XCTFail("\(what): [\(i)] \(y[i]) vs \(want[i])")
                    break
                }
                if let first { XCTAssertEqual(y.map(\.bitPattern), first.map(\.bitPattern), what) } else { first = y }
            }
        }
    }
}
