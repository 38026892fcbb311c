import GraphIR
import Runtime
import XCTest

/// Products with one row or one column run as matrix-vector products: every transpose
/// combination, batched and not, against a naive sum.
final class KernelVectorProductTests: XCTestCase {
    let data = TestData(seed: 51)

    func testOneRowAndOneColumnProducts() throws {
        for (m, n, k) in [(1, 5, 4), (6, 1, 3), (1, 1, 7), (1, 7, 1)] {
            for ta in [false, true] { for tb in [false, true] { for batch in [0, 3] {
                let lead = batch > 0 ? [batch] : []
                let a = data.floats(lead + (ta ? [k, m] : [m, k])), b = data.floats(lead + (tb ? [n, k] : [k, n]))
                let y = try runOp(.matmul, [a, b], ["transpose_a": .bool(ta), "transpose_b": .bool(tb)])
                var expected: [Double] = []
                for s in 0..<max(batch, 1) { for i in 0..<m { for j in 0..<n {
                    var sum = 0.0
                    for p in 0..<k {
                        let av = a.floats[s * m * k + (ta ? p * m + i : i * k + p)]
                        let bv = b.floats[s * k * n + (tb ? j * k + p : p * n + j)]
                        sum += Double(av) * Double(bv)
                    }
                    expected.append(sum)
                } } }
                assertClose(y, expected, shape: lead + [m, n], "m\(m) n\(n) k\(k) ta\(ta) tb\(tb) batch\(batch)")
            } } }
        }
    }
}
