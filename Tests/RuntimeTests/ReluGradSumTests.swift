import GraphIR
import Passes
@testable import Runtime
import XCTest

/// `relu_grad_sum` against a naive masked sum, and the `pool-gradient-sums` rewrite's bias
/// gradients against Autodiff's (themselves checked by central differences).
final class ReluGradSumTests: XCTestCase {
    let data = TestData(seed: 71)

    /// A mask with zeros of both signs, NaNs and infinities (none of which is above 0 but +inf).
    func mask(_ shape: [Int]) -> HostTensor {
        let u = data.floats(shape, in: 0...1).floats, v = data.floats(shape, in: -2...2).floats
        return HostTensor(shape: shape, floats: zip(u, v).map { r, x in
            r < 0.1 ? 0 : r < 0.15 ? -0.0 : r < 0.17 ? .nan : r < 0.19 ? .infinity : r < 0.21 ? -.infinity : x
        })
    }

    /// The channel sums (the fast path: rows shorter and longer than its sixteen lanes, not a
    /// multiple of them) and other axes (the general path), on 1-3 threads, against Double sums.
    func testMaskedSumsAgainstDoubleSums() throws {
        let cases: [([Int], [Int])] = [([3, 4, 5, 7], [0, 2, 3]), ([2, 16, 14, 14], [0, 2, 3]), ([4, 3, 1, 17], [0, 2, 3]),
                                       ([2, 3, 4, 4], [1]), ([2, 3, 4, 5], [-1, 0]), ([5, 6], [0])]
        for (shape, axes) in cases {
            let dy = data.floats(shape), t = mask(shape)
            let rank = shape.count, normal = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
            let kept = (0..<rank).filter { !normal.contains($0) }
            let outShape = kept.map { shape[$0] }
            var want = [Double](repeating: 0, count: outShape.reduce(1, *))
            var index = [Int](repeating: 0, count: rank)
            for i in 0..<dy.count {
                var rest = i
                for a in stride(from: rank - 1, through: 0, by: -1) { index[a] = rest % shape[a]; rest /= shape[a] }
                let o = kept.reduce(0) { $0 * shape[$1] + index[$1] }
                if t.floats[i] > 0 { want[o] += Double(dy.floats[i]) }
            }
            for threads in 1...3 {
                let got = try runOp(.reluGradSum, [dy, t], ["axes": .ints(axes)], threads: threads)
                XCTAssertEqual(got.shape, outShape)
                for (g, w) in zip(got.floats, want) {
                    XCTAssertEqual(Double(g), w, accuracy: 1e-5 * max(1, abs(w)), "\(shape) axes \(axes) \(threads) threads")
                }
            }
        }
    }

    /// The channel sums give the bits `sum(relu_grad(dy, t))` gives.
    func testChannelSumsMatchTheUnfusedSumBitForBit() throws {
        let shape = [3, 16, 14, 14], a: Attributes = ["axes": .ints([0, 2, 3])]
        let dy = data.floats(shape), t = mask(shape)
        let masked = try runOp(.reluGrad, [dy, t])
        XCTAssertEqual(try runOp(.reluGradSum, [dy, t], a, threads: 2).floats.map(\.bitPattern),
                       try runOp(.sum, [masked], a).floats.map(\.bitPattern))
    }

    /// The channel sums' documented arithmetic, written out naively: a row of n summed in
    /// Double in sixteen lanes (element j in lane j % 16, up to the last whole sixteen), the lanes
    /// combined as four vectors of four ((v0 + v1) + (v2 + v3), then the lanes of that pairwise),
    /// plus the rest added one by one; the rows' sums rounded to Float and added into a Float 0
    /// in outer order.
    func referenceChannelSums(_ x: [Float], shape: [Int]) -> [Float] {
        let (outer, kept, inner) = (shape[0], shape[1], shape[2..<shape.count].reduce(1, *))
        return (0..<kept).map { k in
            var total: Float = 0
            for o in 0..<outer {
                let row = Array(x[((o * kept + k) * inner)..<((o * kept + k + 1) * inner)])
                var lanes = [Double](repeating: 0, count: 16)
                let whole = inner / 16 * 16
                for j in 0..<whole { lanes[j % 16] += Double(row[j]) }
                var tail = 0.0
                for j in whole..<inner { tail += Double(row[j]) }
                var t = [Double](repeating: 0, count: 4)
                for l in 0..<4 {
                    let low: Double = lanes[l] + lanes[4 + l], high: Double = lanes[8 + l] + lanes[12 + l]
                    t[l] = low + high
                }
                total += Float(((t[0] + t[1]) + (t[2] + t[3])) + tail)
            }
            return total
        }
    }

    /// relu_grad_sum and sum over [0, 2, 3] (rows of 36 as the CNN's 6x6 maps, 196, 16, 17, 5,
    /// 1), on 1-3 threads, give the bits of the naive reference of their arithmetic.
    func testChannelSumsMatchTheirArithmeticBitForBit() throws {
        for shape in [[64, 32, 6, 6], [5, 16, 14, 14], [3, 7, 4, 4], [4, 3, 1, 17], [3, 5, 1, 5], [2, 9, 3, 12]] {
            let dy = data.floats(shape, in: -100...100), t = mask(shape)
            let masked = zip(dy.floats, t.floats).map { d, m in m > 0 ? d : 0 }
            let a: Attributes = ["axes": .ints([0, 2, 3])]
            for threads in 1...3 {
                XCTAssertEqual(try runOp(.reluGradSum, [dy, t], a, threads: threads).floats.map(\.bitPattern),
                               referenceChannelSums(masked, shape: shape).map(\.bitPattern), "relu_grad_sum \(shape) \(threads) threads")
                XCTAssertEqual(try runOp(.sum, [dy], a, threads: threads).floats.map(\.bitPattern),
                               referenceChannelSums(dy.floats, shape: shape).map(\.bitPattern), "sum \(shape) \(threads) threads")
            }
        }
    }

    func testShapeRuleRejectsMismatchedOperandsAndAxes() {
        let b = GraphBuilder(name: "g")
        let x = b.input("x", .f32([2, 3, 4, 4])), y = b.input("y", .f32([2, 3, 4, 5]))
        XCTAssertThrowsError(try b.emit(.reluGradSum, [x, y], ["axes": .ints([0, 2, 3])]))
        XCTAssertThrowsError(try b.emit(.reluGradSum, [x, x], ["axes": .ints([4])]))
        XCTAssertThrowsError(try b.emit(.reluGradSum, [x, x], ["axes": .ints([1, -3])]))
        XCTAssertEqual(b.type(of: try b.emit(.reluGradSum, [x, x], ["axes": .ints([0, 2, 3])])), .f32([3]))
    }

    /// conv + bias, relu, 2x2 pooling: the bias gradient the rewritten backward sums from the
    /// pooled gradient equals Autodiff's, which the central differences check.
    func testRewrittenBiasGradientMatchesCheckedGradients() throws {
        let c = GradientCheckGraph("conv-pool", seed: 3)
        let x = c.input("x", .f32([2, 2, 8, 8]))
        let w = c.param("w", [3, 2, 3, 3]), bias = c.param("b", [3])
        let conv = try c.emit(.conv2d, [x, w, bias], ["stride": .ints([1, 1]), "padding": .ints([1, 1])])
        try c.finishWithWeightedSum(try c.maxpool(try c.relu(conv), 2))
        let analytic = try checkGradients(c, maxPerParameter: 16)

        let differentiated = try Autodiff.differentiate(c.graph)
        let context = PassContext(options: PassOptions(verifyEach: true))
        let rewritten = try Pipeline(["fusion", "pool-gradient-sums", "dce", "verify"]).run(differentiated, context)
        XCTAssertEqual(rewritten.nodes.filter { $0.op == .reluGradSum }.count, 1)
        let out = try Executor(graph: rewritten, options: ExecutionOptions()).run(feeds: c.feeds, parameters: c.store)
        let got = try XCTUnwrap(out[GradientOutput.name(forParameter: "b")]).floats
        let want = try XCTUnwrap(analytic["b"])
        for (g, a) in zip(got, want) { XCTAssertEqual(g, a, accuracy: 1e-5 * max(1, abs(a))) }
    }

    /// 7x7 pooled by 2 drops the last row and column (floor mode): the full-resolution
    /// gradient is zero there, so the sum from the pooled gradient still equals Autodiff's
    /// (checked by central differences); the same with a 3x3 window on 8x8 (two rows dropped).
    func testRewrittenBiasGradientWhereThePoolingDropsRows() throws {
        for (size, k) in [(7, 2), (8, 3)] {
            let c = GradientCheckGraph("conv-pool-\(size)-\(k)", seed: 5)
            let x = c.input("x", .f32([2, 2, size, size]))
            let w = c.param("w", [3, 2, 3, 3]), bias = c.param("b", [3])
            let conv = try c.emit(.conv2d, [x, w, bias], ["stride": .ints([1, 1]), "padding": .ints([1, 1])])
            try c.finishWithWeightedSum(try c.maxpool(try c.relu(conv), k))
            let analytic = try checkGradients(c, maxPerParameter: 8)
            let rewritten = try Pipeline(["fusion", "pool-gradient-sums", "dce", "verify"])
                .run(try Autodiff.differentiate(c.graph), PassContext(options: PassOptions(verifyEach: true)))
            XCTAssertEqual(rewritten.nodes.filter { $0.op == .reluGradSum }.count, 1, "\(size) by \(k)")
            let out = try Executor(graph: rewritten, options: ExecutionOptions()).run(feeds: c.feeds, parameters: c.store)
            let got = try XCTUnwrap(out[GradientOutput.name(forParameter: "b")]).floats
            for (g, a) in zip(got, try XCTUnwrap(analytic["b"])) {
                XCTAssertEqual(g, a, accuracy: 1e-5 * max(1, abs(a)), "\(size) by \(k)")
            }
        }
    }

    /// The general path on ranks other than 4 and with no axes (a masked copy).
    func testOtherRanksAndNoAxes() throws {
        let dy = HostTensor(shape: [5], floats: [1, 2, 3, 4, 5]), t = HostTensor(shape: [5], floats: [1, 0, -0.0, .nan, 2])
        XCTAssertEqual(try runOp(.reluGradSum, [dy, t], ["axes": .ints([0])]).floats, [6])
        XCTAssertEqual(try runOp(.reluGradSum, [dy, t], ["axes": .ints([])]).floats, [1, 0, 0, 0, 5])
    }
}
