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

    /// `contract_rows` large enough to be split (the attention decoder's encoder weight
    /// gradient at a smaller K), by the fixed rule (tuning off) and by the split the tuner
    /// times and picks, over two threads, equals the plain loops.
    func testContractRowsOverThePoolMatchesTheLoops() throws {
        let rows = 96, m = 100, n = 160
        let a = data.floats([2, rows / 2, m]), b = data.floats([2, rows / 2, n])
        let expected = contractRowsReference(a.floats, b.floats, rows: rows, m: m, n: n)
        XCTAssertNotEqual(ContractRowsSplit.byShape(m: m, n: n, k: rows), .whole, "the product must be large enough to split")
        let builder = GraphBuilder(name: "contract_rows")
        let x0 = builder.input("x0", .f32(Shape(known: [2, rows / 2, m]))), x1 = builder.input("x1", .f32(Shape(known: [2, rows / 2, n])))
        builder.outputs = [("y", try builder.emit(.contractRows, [x0, x1]))]
        let graph = builder.finish()
        for mode in [TuneMode.off, .fast] {
            let tuner = Tuner(mode: mode)
            let executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: 2, tuner: tuner))
            let y = try XCTUnwrap(try executor.run(feeds: ["x0": a, "x1": b], parameters: ParameterStore())["y"])
            assertClose(y, expected, shape: [m, n], tol: 1e-4, "contract_rows over 2 threads, tuning \(mode)")
            if mode == .fast {
                XCTAssertEqual(tuner.decisions.filter { $0.key.point == "contract-rows-split" }.map(\.source), [.measured])
            }
        }
    }

    /// Every split of `contract_rows` equals the plain loops, for the decoders' shapes and
    /// sides that do not halve into whole register blocks, and gives the same bits on one
    /// thread as on two.
    func testEveryContractRowsSplitMatchesTheLoopsAtAnyThreadCount() {
        let pool = WorkerPool(threads: 2)
        for (rows, m, n) in [(168, 1024, 612), (168, 100, 256), (200, 100, 512), (40, 37, 90), (33, 16, 32)] {
            let a = data.floats([rows, m]).floats, b = data.floats([rows, n]).floats
            let expected = contractRowsReference(a, b, rows: rows, m: m, n: n)
            for split in ContractRowsSplit.allCases where split.applies(m: m, n: n, k: rows) {
                var results: [[Float]] = []
                for p in [WorkerPool.serial, pool] {
                    var y = [Float](repeating: .nan, count: m * n)
                    a.withUnsafeBufferPointer { pa in b.withUnsafeBufferPointer { pb in y.withUnsafeMutableBufferPointer { py in
                        split.run(pool: p, a: pa.baseAddress!, b: pb.baseAddress!, y: py.baseAddress!, m: m, n: n, k: rows)
                    } } }
                    for i in y.indices where !(abs(Double(y[i]) - expected[i]) <= 1e-4 * max(1, abs(expected[i]))) {
                        XCTFail("\(rows)x\(m)x\(n) \(split), \(p.width) threads: [\(i)] \(y[i]) vs \(expected[i])")
                        break
                    }
                    results.append(y)
                }
                XCTAssertEqual(results[0].map(\.bitPattern), results[1].map(\.bitPattern), "\(rows)x\(m)x\(n) \(split): 1 vs 2 threads")
            }
        }
    }

    /// Σ_r a[r, i] b[r, j] in Double.
    func contractRowsReference(_ a: [Float], _ b: [Float], rows: Int, m: Int, n: Int) -> [Double] {
        var out = [Double](repeating: 0, count: m * n)
        for r in 0..<rows {
            for i in 0..<m {
                for j in 0..<n { out[i * n + j] += Double(a[r * m + i]) * Double(b[r * n + j]) }
            }
        }
        return out
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
