import GraphIR
import Runtime
import XCTest

/// `where` against a naive reference that indexes each operand by numpy's broadcasting rule.
final class KernelWhereTests: XCTestCase {
    let data = TestData(seed: 71)

    func testPicksByConditionWithEveryBroadcast() throws {
        let cases: [(cond: [Int], x: [Int], y: [Int])] = [
            ([2, 3, 4], [2, 3, 4], [2, 3, 4]),
            ([3, 1], [1, 4], [4]),
            ([2, 1, 4], [3, 1], []),
            ([], [2, 3], [2, 1]),
            ([5], [2, 5], [1]),
        ]
        for k in cases {
            let out = [k.cond, k.x, k.y].reduce([Int]()) { a, s in
                let r = max(a.count, s.count)
                return (0..<r).map { i in
                    let da = i < r - a.count ? 1 : a[i - (r - a.count)], ds = i < r - s.count ? 1 : s[i - (r - s.count)]
                    return da == 1 ? ds : da
                }
            }
            let cond = data.ints(k.cond, below: 2), x = data.floats(k.x), y = data.floats(k.y)
            var expected: [Double] = []
            for flat in 0..<out.reduce(1, *) {
                let i = unravel(flat, out)
                let holds = cond.ints[broadcastIndex(i, from: k.cond)] != 0
                expected.append(Double(holds ? x.floats[broadcastIndex(i, from: k.x)] : y.floats[broadcastIndex(i, from: k.y)]))
            }
            assertClose(try runOp(.where, [cond, x, y]), expected, shape: out, tol: 0, "where \(k)")
            // A float condition: nonzero picks x.
            let floatCond = HostTensor(shape: k.cond, floats: cond.ints.map { $0 != 0 ? -0.5 : 0 })
            assertClose(try runOp(.where, [floatCond, x, y]), expected, shape: out, tol: 0, "where (f32 condition) \(k)")
        }
    }

    func testIntegerOperandsAndValuesNotPickedDoNotLeak() throws {
        let cond = HostTensor(shape: [4], ints: [1, 0, 0, 1])
        let ints = try runOp(.where, [cond, HostTensor(shape: [4], ints: [1, 2, 3, 4]), HostTensor(shape: [1], ints: [-9])])
        XCTAssertEqual(ints.dtype, .i64)
        XCTAssertEqual(ints.ints, [1, -9, -9, 4])
        let x = HostTensor(shape: [4], floats: [1, .infinity, .nan, 2])
        let y = HostTensor(shape: [4], floats: [.nan, 5, 6, -.infinity])
        XCTAssertEqual(try runOp(.where, [cond, x, y]).floats, [1, 5, 6, 2])
    }

    func testShapeRule() throws {
        let q = ShapeQuery(inputs: [.i64([3, 1]), .f32(Shape([.symbol("B"), .known(1), .known(4)])), .f32([1])], attributes: [:])
        XCTAssertEqual(try WhereOp.shape(q), .f32(Shape([.symbol("B"), .known(3), .known(4)])))
        XCTAssertThrowsError(try WhereOp.shape(ShapeQuery(inputs: [.i64([2]), .f32([2]), .i64([2])], attributes: [:])))
        XCTAssertThrowsError(try WhereOp.shape(ShapeQuery(inputs: [.i64([3]), .f32([2]), .f32([2])], attributes: [:])))
    }
}
