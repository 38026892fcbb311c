import Foundation
import GraphIR
import Passes
@testable import Runtime
import XCTest

/// The i64 kernels of the binary elementwise ops (ONNX's integer arithmetic), `power` on f32,
/// and `cast`, each against a naive reference written here without the ops' own functions.
final class KernelIntegerElementwiseTests: XCTestCase {
    let random = RandomSource(seed: 29)

    /// Small values, and values near the ends of the i64 range so sums and products wrap.
    func ints(_ shape: [Int], small: Int = 41) -> HostTensor {
        let n = shape.reduce(1, *)
        return HostTensor(shape: shape, ints: (0..<n).map { _ in
            let v = Int64(random.nextInt(below: small)) - Int64(small / 2)
            switch random.nextInt(below: 4) {
            case 0: return Int64.max - v.magnitude.toInt64
            case 1: return Int64.min + v.magnitude.toInt64
            default: return v
            }
        })
    }

    /// The references: wrapping through the overflow-reporting and full-width operations,
    /// division through magnitudes, power by repeated multiplication.
    static let reference: [(OpDef, (Int64, Int64) -> Int64)] = [
        (.add, { $0.addingReportingOverflow($1).partialValue }),
        (.sub, { $0.subtractingReportingOverflow($1).partialValue }),
        (.mul, { Int64(bitPattern: $0.multipliedFullWidth(by: $1).low) }),
        (.div, { a, b in
            if b == 0 { return 0 }
            let q = a.magnitude / b.magnitude
            return (a < 0) == (b < 0) ? Int64(truncatingIfNeeded: q) : Int64(truncatingIfNeeded: 0 &- q)
        }),
        (.maximum, { a, b in a > b ? a : b }),
        (.minimum, { a, b in a < b ? a : b }),
    ]

    func expected(_ a: HostTensor, _ b: HostTensor, _ f: (Int64, Int64) -> Int64) throws -> ([Int], [Int64]) {
        let out = try XCTUnwrap(try broadcastShapes(Shape(known: a.shape), Shape(known: b.shape)).resolved([:]))
        let values = (0..<out.reduce(1, *)).map { i -> Int64 in
            let idx = unravel(i, out)
            return f(a.ints[broadcastIndex(idx, from: a.shape)], b.ints[broadcastIndex(idx, from: b.shape)])
        }
        return (out, values)
    }

    func testIntegerArithmeticWrapsTruncatesAndBroadcasts() throws {
        let layouts: [([Int], [Int])] = [([3, 5, 7], [3, 5, 7]), ([2, 3, 5], [5]), ([4, 9], []), ([], [4, 9]),
                                         ([4, 1, 6], [1, 5, 1]), ([2, 3, 1, 5], [3, 4, 1])]
        for (sa, sb) in layouts {
            let a = ints(sa), b = ints(sb)
            for (op, f) in KernelIntegerElementwiseTests.reference {
                let y = try runOp(op, [a, b])
                let (shape, values) = try expected(a, b, f)
                XCTAssertEqual(y.dtype, .i64, op.name)
                XCTAssertEqual(y.shape, shape, "\(op.name) \(sa) \(sb)")
                XCTAssertEqual(y.ints, values, "\(op.name) \(sa) \(sb)")
            }
        }
    }

    func testIntegerDivisionEdgeCases() throws {
        let a = HostTensor(shape: [7], ints: [-7, 7, -7, 5, 0, .min, .min])
        let b = HostTensor(shape: [7], ints: [2, -2, -2, 0, 0, -1, 1])
        XCTAssertEqual(try runOp(.div, [a, b]).ints, [-3, -3, 3, 0, 0, .min, .min])
    }

    func testIntegerPowerMatchesRepeatedMultiplication() throws {
        let a = HostTensor(shape: [2, 6], ints: [-3, -2, -1, 0, 1, 2, 3, 5, 7, 10, 1 << 31, -(1 << 31)])
        let b = HostTensor(shape: [6, 1, 1], ints: [0, 1, 2, 7, 33, 64])
        let y = try runOp(.power, [a, b])
        let (shape, values) = try expected(a, b) { base, e in
            var p: Int64 = 1
            for _ in 0..<e { p = Int64(bitPattern: p.multipliedFullWidth(by: base).low) }
            return p
        }
        XCTAssertEqual(y.shape, shape)
        XCTAssertEqual(y.ints, values)
        let negative = try runOp(.power, [HostTensor(shape: [5], ints: [2, -1, -1, 1, 0]), HostTensor(shape: [5], ints: [-1, -2, -3, -9, -1])])
        XCTAssertEqual(negative.ints, [0, 1, -1, 1, 0])
    }

    func testFloatPowerWithATensorExponentBroadcasts() throws {
        let data = TestData(seed: 5)
        let a = data.floats([3, 4], in: 0.1...3), b = data.floats([4], in: -2...2)
        let y = try runOp(.power, [a, b])
        let expected = (0..<12).map { Foundation.pow(Double(a.floats[$0]), Double(b.floats[$0 % 4])) }
        assertClose(y, expected, shape: [3, 4], "power")
        // A negative base with a non-integer exponent is NaN, as powf; an integer one is exact.
        let odd = try runOp(.power, [HostTensor(shape: [3], floats: [-2, -2, 0]), HostTensor(shape: [3], floats: [0.5, 3, 0])]).floats
        XCTAssertTrue(odd[0].isNaN)
        XCTAssertEqual(Array(odd[1...]), [-8, 1])
    }

    func testCastTruncatesTowardZeroSaturatesAndMapsNaNToZero() throws {
        let x = HostTensor(shape: [8], floats: [2.9, -2.9, 0.5, -0.5, .nan, .infinity, -.infinity, 1e30])
        let y = try runOp(.cast, [x], ["to": .string("i64")])
        XCTAssertEqual(y.dtype, .i64)
        XCTAssertEqual(y.ints, [2, -2, 0, 0, 0, .max, .min, .max])
        let back = try runOp(.cast, [HostTensor(shape: [4], ints: [-3, 0, 1 << 24, (1 << 24) + 1])], ["to": .string("f32")])
        XCTAssertEqual(back.dtype, .f32)
        XCTAssertEqual(back.floats, [-3, 0, 16_777_216, 16_777_216], "rounds to the nearest float")
        XCTAssertEqual(try runOp(.cast, [x], ["to": .string("f32")]).floats.map(\.bitPattern), x.floats.map(\.bitPattern))
    }

    /// An i64 chain through the inference pipeline: nothing fuses (fused programs are f32),
    /// the planner reuses 8-byte buffers in place, and the results are the reference's.
    func testIntegerGraphCompilesUnfusedAndRunsInPlace() throws {
        let b = GraphBuilder(name: "ints")
        let x = b.input("x", .i64([4, 5])), y = b.input("y", .i64([5]))
        let s = try b.emit(.add, [x, y])
        let p = try b.emit(.mul, [s, x])
        let d = try b.emit(.sub, [p, y])
        let m = try b.emit(.maximum, [d, x])
        let q = try b.emit(.div, [m, y])
        b.outputs = [("z", q)]
        let g = try Pipelines.compileForInference(b.finish())
        XCTAssertFalse(g.nodes.contains { $0.op == .fusedElementwise }, IRPrinter.print(g))
        let plan = MemoryPlanner.plan(g, byteSizes: MemoryPlanner.byteSizes(g, bindings: [:]))
        XCTAssertTrue(plan.inPlaceOf.contains { $0 != nil }, "an i64 result overwrites an operand read for the last time")

        let xs = ints([4, 5], small: 9), ys = HostTensor(shape: [5], ints: [3, -2, 0, 7, -1])
        let executor = try Executor(graph: g, options: ExecutionOptions(training: false), planner: BufferPlan.lifetimes)
        let z = try XCTUnwrap(try executor.run(feeds: ["x": xs, "y": ys], parameters: ParameterStore())["z"])
        let f = Dictionary(uniqueKeysWithValues: KernelIntegerElementwiseTests.reference.map { ($0.0.name, $0.1) })
        let expected = (0..<20).map { i -> Int64 in
            let xv = xs.ints[i], yv = ys.ints[i % 5]
            let m = f["maximum"]!(f["sub"]!(f["mul"]!(f["add"]!(xv, yv), xv), yv), xv)
            return f["div"]!(m, yv)
        }
        XCTAssertEqual(z.ints, expected)
    }
}

private extension UInt64 {
    var toInt64: Int64 { Int64(truncatingIfNeeded: self) }
}
