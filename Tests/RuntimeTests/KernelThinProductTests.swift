import GraphIR
@testable import Runtime
import XCTest

/// Thin products (a decoder step's 8 rows by a weight) split into column blocks for
/// OpenBLAS's small-matrix kernels must equal the plain product, through matmul and
/// fused_matmul, for the decoders' shapes.
final class KernelThinProductTests: XCTestCase {
    let data = TestData(seed: 29)

    func reference(_ a: [Float], _ b: [Float], m: Int, k: Int, n: Int, tb: Bool) -> [Double] {
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k { s += Double(a[i * k + p]) * Double(tb ? b[j * k + p] : b[p * n + j]) }
                out[i * n + j] = s
            }
        }
        return out
    }

    func testDecoderShapesMatchThePlainProduct() throws {
        // (rows, k, n, transposed weight): h·W_hhᵀ, dGates·W_hh, dGates·W_ih (attention),
        // context·W_ihᵀ, fc, a width that does not divide into blocks.
        let shapes = [(8, 256, 1024, true), (8, 1024, 256, false), (8, 1024, 612, false), (8, 512, 1024, true),
                      (8, 256, 190, true), (5, 300, 777, true), (16, 700, 333, false)]
        for (m, k, n, tb) in shapes {
            let a = data.floats([m, k]), b = data.floats(tb ? [n, k] : [k, n])
            let expected = reference(a.floats, b.floats, m: m, k: k, n: n, tb: tb)
            let y = try runOp(.matmul, [a, b], ["transpose_b": .bool(tb)])
            assertClose(y, expected, shape: [m, n], tol: 1e-4, "matmul \(m)x\(k)x\(n) tb \(tb)")
            let bias = data.floats([n])
            let fused = try runOp(.fusedMatmul, [a, b, bias], ["transpose_b": .bool(tb), "activation": .string("relu")])
            let withBias = expected.indices.map { max(0, expected[$0] + Double(bias.floats[$0 % n])) }
            assertClose(fused, withBias, shape: [m, n], tol: 1e-4, "fused_matmul \(m)x\(k)x\(n) tb \(tb)")
        }
    }

    /// Leading axes count as rows: [2, 4, K] by a 2-D weight is one 8-row product.
    func testLeadingAxesAreRows() throws {
        let a = data.floats([2, 4, 256]), b = data.floats([1024, 256])
        let y = try runOp(.matmul, [a, b], ["transpose_b": .bool(true)])
        assertClose(y, reference(a.floats, b.floats, m: 8, k: 256, n: 1024, tb: true), shape: [2, 4, 1024], tol: 1e-4, "batched")
    }

    /// Column blocks are offered only for thin products too large for a small-matrix kernel.
    func testBlocksOfferedOnlyForThinProducts() {
        XCTAssertEqual(thinColumnBlocks(m: 8, n: 1024, k: 256, transB: true).first, 128)
        XCTAssertEqual(thinColumnBlocks(m: 8, n: 100, k: 100, transB: false), [], "small enough already")
        XCTAssertEqual(thinColumnBlocks(m: 65, n: 1024, k: 256, transB: true), [], "not thin")
    }

    /// Every column-block width, serial and over two threads, equals the naive product.
    func testEveryBlockWidthMatchesTheReference() {
        let pool = WorkerPool(threads: 2)
        for (m, k, n, tb) in [(8, 256, 1000, true), (8, 1024, 612, false), (5, 300, 777, true)] {
            let a = data.floats([m, k]).floats, b = data.floats(tb ? [n, k] : [k, n]).floats
            let expected = reference(a, b, m: m, k: k, n: n, tb: tb)
            let blocks = thinColumnBlocks(m: m, n: n, k: k, transB: tb)
            XCTAssertFalse(blocks.isEmpty)
            for block in blocks {
                for p in [WorkerPool.serial, pool] {
                    var y = [Float](repeating: .nan, count: m * n)
                    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
                        thinMatmulColumns(pool: p, a: pa.baseAddress!, b: pb.baseAddress!, y: py.baseAddress!, m: m, n: n, k: k,
                                          transB: tb, block: block)
                    } } }
                    for i in y.indices where abs(Double(y[i]) - expected[i]) > 1e-4 * max(1, abs(expected[i])) {
                        XCTFail("\(m)x\(k)x\(n) block \(block), \(p.width) threads: [\(i)] \(y[i]) vs \(expected[i])")
                        break
                    }
                }
            }
        }
    }

    /// Every way `sgemm(pool:)` splits a product equals the naive product, as C = op(A)·op(B)
    /// and as C = beta·C + alpha·op(A)·op(B) (a fused weight update's accumulating product).
    func testEveryGEMMSplitMatchesTheReference() {
        let pool = WorkerPool(threads: 2)
        for (m, k, n, ta, tb) in [(64, 300, 500, false, true), (600, 8, 1152, true, false), (8, 1152, 600, false, false), (33, 129, 257, true, true)] {
            let a = data.floats(ta ? [k, m] : [m, k]).floats, b = data.floats(tb ? [n, k] : [k, n]).floats
            let c0 = data.floats([m, n]).floats
            var product = [Double](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { for p in 0..<k {
                product[i * n + j] += Double(ta ? a[p * m + i] : a[i * k + p]) * Double(tb ? b[j * k + p] : b[p * n + j])
            } } }
            for split in GEMMSplit.allCases {
                for (alpha, beta) in [(Float(1), Float(0)), (-0.5, 1)] {
                    var y = beta == 0 ? [Float](repeating: .nan, count: m * n) : c0
                    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
                        split.run(pool: pool, transA: ta, transB: tb, m: m, n: n, k: k, alpha: alpha, a: pa.baseAddress!, lda: ta ? m : k,
                                  b: pb.baseAddress!, ldb: tb ? k : n, beta: beta, c: py.baseAddress!, ldc: n)
                    } } }
                    for i in y.indices {
                        let expected = Double(alpha) * product[i] + (beta == 0 ? 0 : Double(beta) * Double(c0[i]))
                        guard abs(Double(y[i]) - expected) > 1e-4 * max(1, abs(product[i])) else { continue }
                        XCTFail("\(m)x\(k)x\(n) ta \(ta) tb \(tb) split \(split) alpha \(alpha) beta \(beta): [\(i)] \(y[i]) vs \(expected)")
                        break
                    }
                }
            }
        }
    }
}
