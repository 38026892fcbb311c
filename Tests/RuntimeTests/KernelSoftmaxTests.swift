import Foundation
import GraphIR
import Runtime
import XCTest

final class KernelSoftmaxTests: XCTestCase {
    let data = TestData(seed: 16)

    /// Softmax of the row through `idx` along `axis`, in Double.
    func referenceSoftmax(_ x: HostTensor, axis: Int) -> [Double] {
        var out = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count {
            var idx = unravel(i, x.shape)
            let me = Double(x.floats[i])
            var denom = 0.0
            for k in 0..<x.shape[axis] { idx[axis] = k; denom += Foundation.exp(Double(x.floats[ravel(idx, x.shape)]) - me) }
            out[i] = 1 / denom
        }
        return out
    }

    func testSoftmaxAndLogSoftmaxAlongAnyAxis() throws {
        let x = data.floats([3, 4, 5], in: -5...5)
        for axis in [0, 1, 2, -1] {
            let a = axis < 0 ? axis + 3 : axis
            let p = referenceSoftmax(x, axis: a)
            assertClose(try runOp(.softmax, [x], ["axis": .int(axis)]), p, shape: x.shape, "softmax \(axis)")
            assertClose(try runOp(.logSoftmax, [x], ["axis": .int(axis)]), p.map { Foundation.log($0) }, shape: x.shape, "log_softmax \(axis)")
        }
    }

    /// Along the last axis (its own contiguous loops) a row gets the bits the general loop
    /// gives it along the first axis of the transpose; rows of 256 (attention's regions) and 37.
    func testLastAxisSoftmaxGivesTheGeneralLoopsBits() throws {
        for (rows, n) in [(8, 256), (3, 37)] {
            let x = data.floats([rows, n], in: -8...8)
            var transposed = [Float](repeating: 0, count: rows * n)
            for r in 0..<rows { for k in 0..<n { transposed[k * rows + r] = x.floats[r * n + k] } }
            let last = try runOp(.softmax, [x], ["axis": .int(1)])
            let first = try runOp(.softmax, [HostTensor(shape: [n, rows], floats: transposed)], ["axis": .int(0)])
            for r in 0..<rows {
                for k in 0..<n {
                    XCTAssertEqual(last.floats[r * n + k].bitPattern, first.floats[k * rows + r].bitPattern, "row \(r) of \(rows)x\(n), \(k)")
                }
            }
            assertClose(last, referenceSoftmax(x, axis: 1), shape: x.shape, "softmax \(rows)x\(n)")
        }
    }

    /// log_softmax_grad along the last axis (the C kernel, eight rows' sums side by side, rows
    /// split over two threads) gives the general loop's bits along the first axis of the
    /// transpose: rows of 1024 (a vocabulary), 37 (a short last block of lanes) and 1, groups of
    /// eight rows and a remainder; and stays close to the Jacobian product.
    func testLastAxisLogSoftmaxGradGivesTheGeneralLoopsBits() throws {
        for (rows, n, threads) in [(105, 1024, 2), (13, 37, 1), (9, 1, 2)] {
            let x = data.floats([rows, n], in: -6...6), dy = data.floats([rows, n])
            let y = try runOp(.logSoftmax, [x], ["axis": .int(1)])
            func transpose(_ t: HostTensor) -> HostTensor {
                var out = [Float](repeating: 0, count: rows * n)
                for r in 0..<rows { for k in 0..<n { out[k * rows + r] = t.floats[r * n + k] } }
                return HostTensor(shape: [n, rows], floats: out)
            }
            let last = try runOp(.logSoftmaxGrad, [dy, y], ["axis": .int(1)], threads: threads)
            let first = try runOp(.logSoftmaxGrad, [transpose(dy), transpose(y)], ["axis": .int(0)])
            var mismatches = 0
            for r in 0..<rows { for k in 0..<n where last.floats[r * n + k].bitPattern != first.floats[k * rows + r].bitPattern { mismatches += 1 } }
            XCTAssertEqual(mismatches, 0, "\(rows)x\(n) on \(threads) thread(s)")
            var reference = [Double](repeating: 0, count: rows * n)
            for r in 0..<rows {
                let total = (0..<n).reduce(0.0) { $0 + Double(dy.floats[r * n + $1]) }
                for k in 0..<n { reference[r * n + k] = Double(dy.floats[r * n + k]) - Foundation.exp(Double(y.floats[r * n + k])) * total }
            }
            assertClose(last, reference, shape: [rows, n], tol: 1e-4, "log_softmax_grad \(rows)x\(n)")
        }
    }

    func testSoftmaxIsStableForHugeLogits() throws {
        let x = HostTensor(shape: [2, 3], floats: [1000, 1001, 1002, -1000, -1000, -999])
        let p = try runOp(.softmax, [x], ["axis": .int(-1)])
        let lp = try runOp(.logSoftmax, [x], ["axis": .int(-1)])
        XCTAssertTrue(p.floats.allSatisfy { $0.isFinite } && lp.floats.allSatisfy { $0.isFinite }, "\(p.floats) \(lp.floats)")
        assertClose(p, referenceSoftmax(x, axis: 1), "softmax huge")
        XCTAssertEqual(Double(lp.floats[2]), -Foundation.log(1 + Foundation.exp(-1.0) + Foundation.exp(-2.0)), accuracy: 1e-5)
    }

    /// dx = Jᵀ dy with the Jacobian written out: softmax ∂y_j/∂x_i = y_j(δ_ij - y_i);
    /// log-softmax ∂y_j/∂x_i = δ_ij - p_i.
    func testGradientsAreTheJacobianTransposeProducts() throws {
        let x = data.floats([2, 5, 3])
        let dy = data.floats([2, 5, 3])
        for axis in [1, -1] {
            let a = axis < 0 ? axis + 3 : axis
            let p = referenceSoftmax(x, axis: a)
            let y = try runOp(.softmax, [x], ["axis": .int(axis)])
            let ly = try runOp(.logSoftmax, [x], ["axis": .int(axis)])
            var dxs = [Double](repeating: 0, count: x.count), dxl = dxs
            for i in 0..<x.count {
                var idx = unravel(i, x.shape)
                for k in 0..<x.shape[a] {
                    idx[a] = k
                    let j = ravel(idx, x.shape)
                    let delta = i == j ? 1.0 : 0.0
                    dxs[i] += Double(dy.floats[j]) * p[j] * (delta - p[i])
                    dxl[i] += Double(dy.floats[j]) * (delta - p[i])
                }
            }
            assertClose(try runOp(.softmaxGrad, [dy, y], ["axis": .int(axis)]), dxs, shape: x.shape, tol: 1e-5, "softmax_grad \(axis)")
            assertClose(try runOp(.logSoftmaxGrad, [dy, ly], ["axis": .int(axis)]), dxl, shape: x.shape, tol: 1e-5, "log_softmax_grad \(axis)")
        }
    }

    func testNllLossMeanOverCountedTargets() throws {
        let logp = data.floats([4, 3, 6], in: -4...0)
        let t = HostTensor(shape: [4, 3], ints: [0, 5, 2, 0, 0, 1, 3, 0, 4, 5, 5, 0])
        var total = 0.0
        for i in 0..<12 { total -= Double(logp.floats[i * 6 + Int(t.ints[i])]) }
        XCTAssertEqual(Double(try runOp(.nllLoss, [logp, t]).floats[0]), total / 12, accuracy: 1e-5)

        // ignore_index 0 drops the padding positions from both the sum and the count.
        var kept = 0.0, count = 0.0
        for i in 0..<12 where t.ints[i] != 0 { kept -= Double(logp.floats[i * 6 + Int(t.ints[i])]); count += 1 }
        let ignoring = try runOp(.nllLoss, [logp, t], ["ignore_index": .int(0)])
        XCTAssertEqual(ignoring.shape, [])
        XCTAssertEqual(Double(ignoring.floats[0]), kept / count, accuracy: 1e-5)

        let dy = HostTensor(scalar: 2)
        let grad = try runOp(.nllLossGrad, [dy, logp, t], ["ignore_index": .int(0)])
        var expected = [Double](repeating: 0, count: logp.count)
        for i in 0..<12 where t.ints[i] != 0 { expected[i * 6 + Int(t.ints[i])] = -2 / count }
        assertClose(grad, expected, shape: logp.shape, "nll_loss_grad")
    }

    func testNllLossWithEveryTargetIgnoredIsZero() throws {
        let logp = data.floats([3, 4], in: -3...0)
        let t = HostTensor(shape: [3], ints: [-100, -100, -100])
        let attrs: Attributes = ["ignore_index": .int(-100)]
        XCTAssertEqual(try runOp(.nllLoss, [logp, t], attrs).floats, [0])
        XCTAssertEqual(try runOp(.nllLossGrad, [HostTensor(scalar: 1), logp, t], attrs).floats, [Float](repeating: 0, count: 12))
    }
}
