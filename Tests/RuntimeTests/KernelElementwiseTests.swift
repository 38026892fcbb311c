import Foundation
import GraphIR
import Runtime
import XCTest

final class KernelElementwiseTests: XCTestCase {
    let data = TestData(seed: 11)

    func testUnaryMapsMatchReference() throws {
        let x = data.floats([3, 5, 7], in: -4...4)
        let cases: [(OpDef, Attributes, (Double) -> Double)] = [
            (.relu, [:], { max($0, 0) }),
            (.sigmoid, [:], { 1 / (1 + Foundation.exp(-$0)) }),
            (.tanh, [:], { Foundation.tanh($0) }),
            (.exp, [:], { Foundation.exp($0) }),
            (.neg, [:], { -$0 }),
            (.scale, ["factor": .float(-0.75)], { $0 * -0.75 }),
            (.clamp, ["min": .float(-1.5), "max": .float(0.25)], { min(max($0, -1.5), 0.25) }),
        ]
        for (op, attrs, f) in cases {
            let y = try runOp(op, [x], attrs)
            assertClose(y, x.doubles.map(f), shape: [3, 5, 7], op.name)
        }
        let pos = data.floats([13], in: 0.01...5)
        assertClose(try runOp(.log, [pos]), pos.doubles.map { Foundation.log($0) }, shape: [13], "log")
    }

    func testSigmoidIsStableForLargeMagnitudes() throws {
        let x = HostTensor(shape: [6], floats: [-1000, -100, -20, 20, 100, 1000])
        let y = try runOp(.sigmoid, [x]).floats
        XCTAssertTrue(y.allSatisfy { $0.isFinite }, "\(y)")
        XCTAssertEqual(y[0], 0); XCTAssertEqual(y[5], 1)
        XCTAssertEqual(Double(y[2]), 1 / (1 + Foundation.exp(20.0)), accuracy: 1e-12)
        XCTAssertGreaterThan(y[2], 0)
    }

    /// Every broadcasting layout the loops special-case, plus general ones.
    func testBinaryOpsBroadcastLikeNumpy() throws {
        let layouts: [([Int], [Int])] = [
            ([3, 5, 7], [3, 5, 7]),      // same shape
            ([2, 3, 5], [5]),            // bias on the last axis
            ([4, 9], []),                // scalar right
            ([], [4, 9]),                // scalar left
            ([4, 1, 6], [1, 5, 1]),      // both stretch
            ([2, 1, 3], [4, 1]),         // different ranks
            ([5, 1], [3, 1, 4]),
            ([2, 3, 1, 5], [3, 4, 1]),
            ([1, 1], [7, 1, 1]),
        ]
        let ops: [(OpDef, (Double, Double) -> Double)] = [(.add, +), (.sub, -), (.mul, *), (.div, /)]
        for (sa, sb) in layouts {
            let a = data.floats(sa), b = data.floats(sb, in: 0.5...2)
            let out = try broadcastShapes(Shape(known: sa), Shape(known: sb)).resolved([:]) ?? []
            for (op, f) in ops {
                let y = try runOp(op, [a, b])
                let n = out.reduce(1, *)
                let expected = (0..<n).map { i -> Double in
                    let idx = unravel(i, out)
                    return f(Double(a.floats[broadcastIndex(idx, from: sa)]), Double(b.floats[broadcastIndex(idx, from: sb)]))
                }
                assertClose(y, expected, shape: out, "\(op.name) \(sa) \(sb)")
            }
        }
    }

    func testReluGradPassesGradientWhereInputIsPositive() throws {
        let dy = data.floats([4, 7]), x = data.floats([4, 7])
        let y = try runOp(.reluGrad, [dy, x])
        assertClose(y, zip(dy.doubles, x.doubles).map { $1 > 0 ? $0 : 0 }, shape: [4, 7], "relu_grad")
    }

    func testConstantFillsItsValue() throws {
        let y = try runOp(.constant, [], ["value": .float(2.5)])
        XCTAssertEqual(y.shape, [])
        XCTAssertEqual(y.floats, [2.5])
    }
}
