import Foundation
import GraphIR
@testable import Runtime
import XCTest

/// The two ops the decoders' optimisations introduce, against plain loops in Double:
/// `contract_rows` (a shared weight's gradient over every step) and `lstm_cell` (one step's
/// gate math).
final class KernelRecurrentOpTests: XCTestCase {
    let data = TestData(seed: 41)

    func testContractRowsSumsOuterProductsOfEveryRow() throws {
        // 3 steps x 5 rows: result[m, n] = Σ over all 15 rows of a[r, m] b[r, n].
        let a = data.floats([3, 5, 4]), b = data.floats([3, 5, 6])
        var expected = [Double](repeating: 0, count: 4 * 6)
        for r in 0..<15 {
            for m in 0..<4 {
                for n in 0..<6 { expected[m * 6 + n] += Double(a.floats[r * 4 + m]) * Double(b.floats[r * 6 + n]) }
            }
        }
        assertClose(try runOp(.contractRows, [a, b]), expected, shape: [4, 6], tol: 1e-5, "contract_rows")
    }

    /// Large enough to be split over two threads, by rows (m >= n) and by columns (m < n) of
    /// the result, as the shape rule picks with tuning off.
    func testContractRowsSplitOverThreadsSumsEveryRow() throws {
        for (m, n) in [(96, 40), (40, 160)] {
            let a = data.floats([3, 50, m]), b = data.floats([3, 50, n])
            var expected = [Double](repeating: 0, count: m * n)
            for r in 0..<150 {
                for i in 0..<m {
                    for j in 0..<n { expected[i * n + j] += Double(a.floats[r * m + i]) * Double(b.floats[r * n + j]) }
                }
            }
            XCTAssertGreaterThanOrEqual(m * n * 150, parallelGemmWork, "split, not serial")
            assertClose(try runOp(.contractRows, [a, b], threads: 2), expected, shape: [m, n], tol: 1e-4, "contract_rows \(m)x\(n)")
        }
    }

    func testLSTMCellWritesStateGatesAndTanhOfTheCell() throws {
        let batch = 3, h = 5
        // Pre-activations up to ±6 reach both flat ends of sigmoid and tanh.
        let gates = HostTensor(shape: [batch, 4 * h], floats: data.floats([batch, 4 * h]).floats.map { $0 * 3 })
        let c = data.floats([batch, h])
        func sigmoid(_ x: Double) -> Double { 1 / (1 + exp(-x)) }
        var expected = [Double](repeating: 0, count: batch * 7 * h)
        for r in 0..<batch {
            for j in 0..<h {
                let pre = { (k: Int) in Double(gates.floats[r * 4 * h + k * h + j]) }
                let i = sigmoid(pre(0)), f = sigmoid(pre(1)), g = tanh(pre(2)), o = sigmoid(pre(3))
                let cNew = f * Double(c.floats[r * h + j]) + i * g
                let row = r * 7 * h
                for (block, value) in [o * tanh(cNew), cNew, i, f, g, o, tanh(cNew)].enumerated() { expected[row + block * h + j] = value }
            }
        }
        assertClose(try runOp(.lstmCell, [gates, c]), expected, shape: [batch, 7 * h], tol: 1e-5, "lstm_cell")
    }
}
