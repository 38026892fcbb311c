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
