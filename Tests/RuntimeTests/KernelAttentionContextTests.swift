import Foundation
import GraphIR
@testable import Runtime
import XCTest

/// attention_context and its backward against plain loops in Double on every instruction set,
/// with one example and several (split by core), and their gradients numerically.
final class KernelAttentionContextTests: XCTestCase {
    let data = TestData(seed: 47)

    func testContextAndGradientMatchLoops() throws {
        try onEveryISA { isa in
            for (batch, regions, width) in [(1, 7, 5), (3, 9, 37), (4, 16, 64)] {
                let scores = data.floats([batch, regions]), features = data.floats([batch, regions, width])
                let dc = data.floats([batch, width])
                var context = [Double](repeating: 0, count: batch * width)
                var dScores = [Double](repeating: 0, count: batch * regions)
                for b in 0..<batch {
                    let s = (0..<regions).map { Double(scores.floats[b * regions + $0]) }
                    let top = s.max() ?? 0
                    let e = s.map { exp($0 - top) }, total = e.reduce(0, +)
                    let alpha = e.map { $0 / total }
                    var g = [Double](repeating: 0, count: regions)
                    for n in 0..<regions {
                        for d in 0..<width {
                            let f = Double(features.floats[(b * regions + n) * width + d])
                            context[b * width + d] += alpha[n] * f
                            g[n] += f * Double(dc.floats[b * width + d])
                        }
                    }
                    let mean = zip(alpha, g).reduce(0) { $0 + $1.0 * $1.1 }
                    for n in 0..<regions { dScores[b * regions + n] = alpha[n] * (g[n] - mean) }
                }
                let what = "B=\(batch) N=\(regions) D=\(width) on \(isa)"
                assertClose(try runOp(.attentionContext, [scores, features]), context, shape: [batch, width], tol: 1e-5,
                            "attention_context \(what)")
                assertClose(try runOp(.attentionContextGrad, [dc, scores, features]), dScores, shape: [batch, regions], tol: 1e-5,
                            "attention_context_grad \(what)")
            }
        }
    }

    /// The op gives the bits of the ops it replaces (softmax, matmul, softmax_grad), at 1, 2
    /// and 3 threads: one example too small to split, and batches large enough that the pool
    /// splits them into several blocks (more and fewer examples than threads).
    func testSameBitsAsTheOpsItReplaces() throws {
        for (batch, regions, width, split) in [(4, 11, 24, false), (1, 200, 170, false), (2, 300, 120, true), (5, 200, 170, true)] {
            XCTAssertEqual(WorkerPool.grain(itemCost: regions * width) < batch, split, "B=\(batch) N=\(regions) D=\(width) split over the pool")
            let scores = data.floats([batch, regions]), features = data.floats([batch, regions, width])
            let dc = data.floats([batch, width])
            let alpha = try runOp(.softmax, [scores], ["axis": .int(1)])
            let column = HostTensor(shape: [batch, regions, 1], floats: alpha.floats)
            let context = try runOp(.matmul, [column, features], ["transpose_a": .bool(true)], threads: 1)
            let g = try runOp(.matmul, [features, HostTensor(shape: [batch, 1, width], floats: dc.floats)], ["transpose_b": .bool(true)],
                              threads: 1)
            let dScores = try runOp(.softmaxGrad, [HostTensor(shape: [batch, regions], floats: g.floats), alpha], ["axis": .int(1)])
            for threads in [1, 2, 3] {
                let what = "B=\(batch) N=\(regions) D=\(width), \(threads) threads"
                XCTAssertEqual(try runOp(.attentionContext, [scores, features], threads: threads).floats.map(\.bitPattern),
                               context.floats.map(\.bitPattern), what)
                XCTAssertEqual(try runOp(.attentionContextGrad, [dc, scores, features], threads: threads).floats.map(\.bitPattern),
                               dScores.floats.map(\.bitPattern), what)
            }
        }
    }

    /// Shape rules refuse operands that do not line up.
    func testShapeRulesRefuseMismatches() {
        let f = TensorType.f32(Shape(known: [2, 5, 4]))
        XCTAssertEqual(try inferType(.attentionContext, [.f32(Shape(known: [2, 5])), f], [:]), .f32(Shape(known: [2, 4])))
        XCTAssertThrowsError(try inferType(.attentionContext, [.f32(Shape(known: [2, 4])), f], [:]))
        XCTAssertThrowsError(try inferType(.attentionContext, [.f32(Shape(known: [2, 5, 1])), f], [:]))
        XCTAssertThrowsError(try inferType(.attentionContextGrad, [.f32(Shape(known: [2, 5])), .f32(Shape(known: [2, 5])), f], [:]))
        XCTAssertEqual(try inferType(.attentionContextGrad, [.f32(Shape(known: [2, 4])), .f32(Shape(known: [2, 5])), f], [:]),
                       .f32(Shape(known: [2, 5])))
    }
}

extension GradientCheckOpTests {
    /// attention_context's gradients of the scores (its own backward op) and of the features
    /// (the outer product the rule emits), with a symbolic batch.
    func testAttentionContext() throws {
        for batch in [nil, 2] as [Int?] {
            let c = GradientCheckGraph("attention_context", bindings: batch.map { ["B": $0] } ?? [:])
            let scores: Value, features: Value
            if batch != nil {
                scores = try c.emit(.mul, [c.input("x", .f32(Shape([Dim.symbol("B"), .known(6)])), c.uniform(12, 0.9, 1)),
                                           c.param("scores", [6])])
                features = try c.emit(.mul, [c.input("y", .f32(Shape([Dim.symbol("B"), .known(6), .known(5)])), c.uniform(60, 0.9, 1)),
                                             c.param("features", [6, 5])])
            } else {
                scores = c.param("scores", [2, 6])
                features = c.param("features", [2, 6, 5])
            }
            try c.finishWithWeightedSum(try c.emit(.attentionContext, [scores, features]))
            try checkGradients(c, expect: ["scores", "features"])
        }
    }
}
