import GraphIR
import Runtime
import XCTest

final class KernelContractionTests: XCTestCase {
    let data = TestData(seed: 13)

    /// Reference product of one [M,K]x[K,N] slice with optional transposes, reading the
    /// stored (possibly transposed) matrices at `aBase`/`bBase`.
    func referenceMatmul(_ a: [Float], _ aBase: Int, _ b: [Float], _ bBase: Int, m: Int, k: Int, n: Int, ta: Bool, tb: Bool) -> [Double] {
        var out = [Double](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = 0.0
                for p in 0..<k {
                    let av = ta ? a[aBase + p * m + i] : a[aBase + i * k + p]
                    let bv = tb ? b[bBase + j * k + p] : b[bBase + p * n + j]
                    s += Double(av) * Double(bv)
                }
                out[i * n + j] = s
            }
        }
        return out
    }

    func testTwoDimensionalWithEveryTransposeCombination() throws {
        let (m, k, n) = (7, 5, 3)
        for ta in [false, true] {
            for tb in [false, true] {
                let a = data.floats(ta ? [k, m] : [m, k]), b = data.floats(tb ? [n, k] : [k, n])
                let y = try runOp(.matmul, [a, b], ["transpose_a": .bool(ta), "transpose_b": .bool(tb)])
                assertClose(y, referenceMatmul(a.floats, 0, b.floats, 0, m: m, k: k, n: n, ta: ta, tb: tb), shape: [m, n],
                            tol: 1e-5, "ta \(ta) tb \(tb)")
            }
        }
    }

    /// [B,T,K]x[K,N] (one GEMM over B*T rows), the same with a transposed weight, a transposed
    /// batched left operand (a loop), and batched right operands.
    func testBatchedProducts() throws {
        let (bsz, t, k, n) = (2, 3, 5, 4)
        for (ta, tb, batchedB) in [(false, false, false), (false, true, false), (true, false, false),
                                   (false, false, true), (true, true, true), (false, true, true)] {
            let a = data.floats(ta ? [bsz, k, t] : [bsz, t, k])
            let bShape = batchedB ? (tb ? [bsz, n, k] : [bsz, k, n]) : (tb ? [n, k] : [k, n])
            let b = data.floats(bShape)
            let y = try runOp(.matmul, [a, b], ["transpose_a": .bool(ta), "transpose_b": .bool(tb)])
            var expected: [Double] = []
            for i in 0..<bsz {
                expected += referenceMatmul(a.floats, i * t * k, b.floats, batchedB ? i * k * n : 0, m: t, k: k, n: n, ta: ta, tb: tb)
            }
            assertClose(y, expected, shape: [bsz, t, n], "ta \(ta) tb \(tb) batched b \(batchedB)")
        }
    }

    func testFourDimensionalLeadingAxes() throws {
        let a = data.floats([2, 3, 4, 5]), b = data.floats([5, 6])
        let y = try runOp(.matmul, [a, b])
        var expected: [Double] = []
        for i in 0..<6 { expected += referenceMatmul(a.floats, i * 20, b.floats, 0, m: 4, k: 5, n: 6, ta: false, tb: false) }
        assertClose(y, expected, shape: [2, 3, 4, 6], "4-D")
    }
}
