import CConvKernels
import Foundation
import GraphIR
@testable import Runtime
import XCTest

/// The attention-score ops against plain loops in Double, with attention widths that leave a
/// tail after the 16-lane blocks and one that does not; and their gradients numerically.
final class KernelAttentionScoresTests: XCTestCase {
    let data = TestData(seed: 43)

    /// pre[b, n, a] = enc[b, n, a] + dec[b, a] in Double.
    func pre(_ enc: HostTensor, _ dec: HostTensor, _ b: Int, _ n: Int, _ a: Int, regions: Int, width: Int) -> Double {
        Double(enc.floats[(b * regions + n) * width + a]) + Double(dec.floats[b * width + a])
    }

    /// Widths: a tail after two blocks, one block, a tail alone, the decoders' 100, and sums
    /// over the regions that take several passes (eight blocks at a time) with and without a tail.
    func testScoresAndGradientsMatchLoops() throws {
        try onEveryISA { isa in try scoresAndGradientsMatchLoops("\(isa)") }
    }

    func scoresAndGradientsMatchLoops(_ isa: String) throws {
        for (batch, regions, width) in [(2, 5, 37), (3, 4, 16), (1, 7, 5), (2, 9, 100), (2, 6, 300), (3, 3, 256)] {
            let enc = data.floats([batch, regions, width]), dec = data.floats([batch, width])
            let w = data.floats([1, width]), dy = data.floats([batch, regions, 1])
            var scores = [Double](repeating: 0, count: batch * regions)
            var grad = [Double](repeating: 0, count: batch * regions * width)
            var dw = [Double](repeating: 0, count: width)
            var dd = [Double](repeating: 0, count: batch * width)
            let acc = data.floats([batch, regions, width])
            for b in 0..<batch {
                for n in 0..<regions {
                    let row = b * regions + n
                    for a in 0..<width {
                        let p = pre(enc, dec, b, n, a, regions: regions, width: width)
                        scores[row] += Double(w.floats[a]) * max(p, 0)
                        grad[row * width + a] = p > 0 ? Double(dy.floats[row]) * Double(w.floats[a]) : 0
                        dw[a] += Double(dy.floats[row]) * max(p, 0)
                        dd[b * width + a] += grad[row * width + a]
                    }
                }
            }
            let what = "B=\(batch) N=\(regions) A=\(width) on \(isa)"
            assertClose(try runOp(.additiveScores, [enc, dec, w]), scores, shape: [batch, regions, 1], tol: 1e-5, "additive_scores \(what)")
            assertClose(try runOp(.additiveScoresGrad, [dy, enc, dec, w]), grad, shape: [batch, regions, width], tol: 1e-6,
                        "additive_scores_grad \(what)")
            assertClose(try runOp(.additiveScoresGrad, [dy, enc, dec, w, acc]), zip(grad, acc.floats).map { $0 + Double($1) },
                        shape: [batch, regions, width], tol: 1e-5, "additive_scores_grad with acc \(what)")
            assertClose(try runOp(.additiveScoresDecGrad, [dy, enc, dec, w]), dd, shape: [batch, width], tol: 1e-5,
                        "additive_scores_dec_grad \(what)")
            assertClose(try runOp(.additiveScoresWeightGrad, [dy, enc, dec]), dw, shape: [1, width], tol: 1e-5,
                        "additive_scores_weight_grad \(what)")
        }
    }

    /// The C kernels called directly, on every ISA: additive_scores sums the lanes of 16 rows
    /// at a time where a call has 16 rows, with the same bits as a row alone (ranges that
    /// start and end inside a batch row and inside a group of 16); additive_scores_grad
    /// accumulating in place (acc is out), where the tail window overlaps lanes already
    /// written, adds each element's term once.
    func testKernelsOverRowRangesAndInPlace() throws {
        try onEveryISA { isa in
            for (batch, regions, width) in [(3, 13, 100), (2, 20, 16), (2, 11, 37), (3, 7, 5), (2, 9, 300), (1, 40, 20)] {
                let rows = batch * regions, what = "B=\(batch) N=\(regions) A=\(width) on \(isa)"
                let enc = data.floats([rows * width]).floats, dec = data.floats([batch * width]).floats
                let w = data.floats([width]).floats, dy = data.floats([rows]).floats, acc = data.floats([rows * width]).floats
                var alone = [Float](repeating: 0, count: rows), split = [Float](repeating: .nan, count: rows)
                for r in 0..<rows { gc_additive_scores(enc, dec, w, &alone, regions, width, r, r + 1) }
                let cut = min(22, rows)
                for (begin, end) in [(0, 3), (3, cut), (cut, rows)] {
                    gc_additive_scores(enc, dec, w, &split, regions, width, begin, end)
                }
                XCTAssertEqual(split.map(\.bitPattern), alone.map(\.bitPattern), "additive_scores in row ranges, \(what)")
                var out = acc
                out.withUnsafeMutableBufferPointer { o in
                    gc_additive_scores_grad(dy, enc, dec, w, o.baseAddress, o.baseAddress, regions, width, 0, rows)
                }
                let want = (0..<rows * width).map { i -> Double in
                    let r = i / width, k = i % width
                    let x = Double(enc[i]) + Double(dec[(r / regions) * width + k])
                    return Double(acc[i]) + (x > 0 ? Double(dy[r]) * Double(w[k]) : 0)
                }
                assertClose(HostTensor(shape: [rows, width], floats: out), want, shape: [rows, width], tol: 1e-5,
                            "additive_scores_grad in place, \(what)")
            }
        }
    }

    /// The tail window's overlapped lanes add nothing, even where the weight is infinite: a row
    /// whose terms are all positive and one weight +inf scores +inf (as the naive sum does),
    /// not NaN from inf * 0 in a lane the last whole block already counted.
    func testAnInfiniteWeightInTheOverlappedLanesScoresInfinity() throws {
        try onEveryISA { isa in
            for width in [17, 37, 100] {
                let rows = 18, regions = 6
                let enc = [Float](repeating: 1, count: rows * width), dec = [Float](repeating: 1, count: 3 * width)
                for lane in [width - 16, width - 1] {
                    var w = [Float](repeating: 0.5, count: width)
                    w[lane] = .infinity
                    var y = [Float](repeating: 0, count: rows)
                    gc_additive_scores(enc, dec, w, &y, regions, width, 0, rows)
                    XCTAssertEqual(y, [Float](repeating: .infinity, count: rows), "A=\(width), inf at lane \(lane), \(isa)")
                }
            }
        }
    }

    /// Shape rules refuse operands that do not line up.
    func testShapeRulesRefuseMismatches() {
        let enc = TensorType.f32(Shape(known: [2, 5, 4]))
        XCTAssertThrowsError(try inferType(.additiveScores, [enc, .f32(Shape(known: [2, 3])), .f32(Shape(known: [1, 4]))], [:]))
        XCTAssertThrowsError(try inferType(.additiveScores, [enc, .f32(Shape(known: [2, 4])), .f32(Shape(known: [2, 4]))], [:]))
        XCTAssertThrowsError(try inferType(.additiveScoresGrad, [.f32(Shape(known: [2, 5, 2])), enc, .f32(Shape(known: [2, 4])),
                                                                  .f32(Shape(known: [1, 4]))], [:]))
        XCTAssertEqual(try inferType(.additiveScoresWeightGrad, [.f32(Shape(known: [2, 5, 1])), enc, .f32(Shape(known: [2, 4]))], [:]),
                       .f32(Shape(known: [1, 4])))
    }
}

extension GradientCheckOpTests {
    /// additive_scores with every pre-activation at least 0.15 away from relu's kink (enc away
    /// from zero, dec small), with a symbolic batch; A = 20 leaves a tail after one 16-lane block.
    func testAdditiveScores() throws {
        for batch in [nil, 2] as [Int?] {
            let c = GradientCheckGraph("additive_scores", bindings: batch.map { ["B": $0] } ?? [:])
            let enc: Value, dec: Value
            if batch != nil {
                // A leading symbolic axis: input [B, ...] (values in [0.9, 1)) * parameter.
                enc = try c.emit(.mul, [c.input("x", .f32(Shape([Dim.symbol("B"), .known(3), .known(20)])), c.uniform(120, 0.9, 1)),
                                        c.param("enc", [3, 20], c.awayFromZero(60))])
                dec = try c.emit(.mul, [c.input("y", .f32(Shape([Dim.symbol("B"), .known(20)])), c.uniform(40, 0.9, 1)),
                                        c.param("dec", [20], c.uniform(20, -0.05, 0.05))])
            } else {
                enc = c.param("enc", [2, 3, 20], c.awayFromZero(120))
                dec = c.param("dec", [2, 20], c.uniform(40, -0.05, 0.05))
            }
            let w = c.param("w", [1, 20])
            try c.finishWithWeightedSum(try c.emit(.additiveScores, [enc, dec, w]))
            try checkGradients(c, expect: ["enc", "dec", "w"])
        }
    }
}
