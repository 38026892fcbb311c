import GraphIR
import Passes
import Runtime
import XCTest

/// The gradient rules of the ops and attributes ONNX models need, against central differences
/// (op -> multiply by a fixed random tensor -> sum, as in GradientCheckOpTests).
final class GradientCheckONNXOpsTests: XCTestCase {
    func unary(_ op: OpDef, _ attrs: Attributes = [:], shape: [Int] = [3, 4], values: (GradientCheckGraph, Int) -> [Float],
               file: StaticString = #filePath, line: UInt = #line) throws {
        let c = GradientCheckGraph(op.name)
        let x = c.param("x", shape, values(c, shape.reduce(1, *)))
        try c.finishWithWeightedSum(try c.emit(op, [x], attrs))
        try checkGradients(c, eps: 1e-2, expect: ["x"], file: file, line: line)
    }

    func testGroupedDilatedAsymmetricConv2d() throws {
        let configs: [(c: Int, o: Int, groups: Int, stride: [Int], pads: [Int], dilation: [Int])] = [
            (4, 4, 4, [1, 1], [1, 1, 1, 1], [1, 1]),
            (6, 4, 2, [2, 1], [0, 1, 1, 0], [1, 1]),
            (3, 2, 1, [1, 1], [2, 1, 2, 1], [2, 2]),
            (4, 6, 2, [2, 2], [1, 0, 0, 1], [2, 1]),
        ]
        for (k, cfg) in configs.enumerated() {
            let c = GradientCheckGraph("conv\(k)")
            let x = c.param("x", [2, cfg.c, 6, 7])
            let w = c.param("w", [cfg.o, cfg.c / cfg.groups, 3, 2])
            let b = c.param("bias", [cfg.o])
            let attrs: Attributes = ["stride": .ints(cfg.stride), "padding": .ints(cfg.pads), "dilation": .ints(cfg.dilation),
                                     "groups": .int(cfg.groups)]
            try c.finishWithWeightedSum(try c.emit(.conv2d, [x, w, b], attrs))
            try checkGradients(c, expect: ["x", "w", "bias"])
        }
    }

    func testMaxpoolCeilModeAndDilation() throws {
        for (pads, dilation, ceil) in [([0, 0, 0, 0], [1, 1], true), ([1, 0, 0, 1], [2, 2], true), ([1, 1, 1, 1], [1, 2], false)] {
            let c = GradientCheckGraph("pool")
            // Distinct values 0.05 apart, perturbed by 0.01: no window's maximum changes.
            let x = c.param("x", [2, 2, 7, 7], c.distinct(196))
            try c.finishWithWeightedSum(try c.emit(.maxpool2d, [x], ["kernel": .ints([3, 3]), "stride": .ints([2, 2]),
                                                                     "padding": .ints(pads), "dilation": .ints(dilation),
                                                                     "ceil_mode": .bool(ceil)]))
            try checkGradients(c, eps: 1e-2, expect: ["x"])
        }
    }

    func testAvgpool2d() throws {
        for (pads, ceil, includePad) in [([0, 0, 0, 0], false, false), ([1, 1, 1, 1], false, true), ([0, 1, 1, 0], true, false),
                                         ([1, 0, 1, 1], true, true)] {
            let c = GradientCheckGraph("avgpool")
            let x = c.param("x", [2, 2, 7, 6])
            try c.finishWithWeightedSum(try c.emit(.avgpool2d, [x], ["kernel": .ints([3, 2]), "stride": .ints([2, 2]),
                                                                     "padding": .ints(pads), "ceil_mode": .bool(ceil),
                                                                     "count_include_pad": .bool(includePad)]))
            try checkGradients(c, expect: ["x"])
        }
    }

    /// a and b broadcasting, values far apart so no perturbation changes which one wins.
    func testMaximumAndMinimum() throws {
        for op in [OpDef.maximum, .minimum] {
            for bShape in [[2, 3, 4], [4], [3, 1]] {
                let c = GradientCheckGraph(op.name)
                let a = c.param("a", [2, 3, 4], c.distinct(24, gap: 0.1))
                let n = bShape.reduce(1, *)
                let b = c.param("b", bShape, c.distinct(n, gap: 0.1).map { $0 + 0.05 })
                try c.finishWithWeightedSum(try c.emit(op, [a, b]))
                try checkGradients(c, expect: ["a", "b"])
            }
        }
    }

    func testLeakyRelu() throws { try unary(.leakyRelu, ["alpha": .float(0.1)], values: { c, n in c.awayFromZero(n) }) }
    func testSqrt() throws { try unary(.sqrt, values: { c, n in c.uniform(n, 0.5, 2) }) }
    func testPow() throws {
        try unary(.pow, ["exponent": .float(3)], values: { c, n in c.uniform(n) })
        try unary(.pow, ["exponent": .float(-0.5)], values: { c, n in c.uniform(n, 0.5, 2) })
        try unary(.pow, ["exponent": .float(2)], values: { c, n in c.uniform(n) })
        try unary(.pow, ["exponent": .float(1)], values: { c, n in c.uniform(n) })
    }
    /// power(a, b) against differences in both operands, b broadcasting or not; a base of 0
    /// (with integer exponents, so a ± eps stays defined) has the slopes 0 as PyTorch's.
    func testPowerWithATensorExponent() throws {
        for bShape in [[2, 3], [3], [2, 1]] {
            let c = GradientCheckGraph("power")
            let a = c.param("a", [2, 3], c.uniform(6, 0.5, 2))
            let b = c.param("b", bShape, c.uniform(bShape.reduce(1, *), -2, 2))
            try c.finishWithWeightedSum(try c.emit(.power, [a, b]))
            try checkGradients(c, expect: ["a", "b"])
        }
        let c = GradientCheckGraph("power_at_zero")
        let a = c.param("a", [4], [0, 0, 1.5, 0.7])
        let b = c.param("b", [4], [2, 3, 0, -1])
        try c.finishWithWeightedSum(try c.emit(.power, [a, b]))
        let g = try checkGradients(c, expect: ["a", "b"])
        XCTAssertEqual(g["a"]?[0], 0); XCTAssertEqual(g["b"]?[0], 0); XCTAssertEqual(g["b"]?[1], 0)
    }

    /// Where PyTorch masks the formulas' 0 * inf: 0^0 has slope 0 in a, and 0^b for b >= 0
    /// slope 0 in b; no NaN reaches the gradients.
    func testPowerGradientIsFiniteAtZeroBaseAndZeroExponent() throws {
        let c = GradientCheckGraph("power_zero")
        let a = c.param("a", [3], [0, 0, 2])
        let b = c.param("b", [3], [0, 0.5, 0])
        try c.finishWithWeightedSum(try c.emit(.power, [a, b]))
        let differentiated = try Autodiff.differentiate(c.graph)
        let results = try Executor(graph: differentiated, options: ExecutionOptions()).run(feeds: c.feeds, parameters: c.store)
        let ga = try XCTUnwrap(results[GradientOutput.name(forParameter: "a")]?.floats)
        let gb = try XCTUnwrap(results[GradientOutput.name(forParameter: "b")]?.floats)
        XCTAssertEqual(Array(ga[0...0]) + Array(gb[0...1]), [0, 0, 0])
        XCTAssertTrue(ga[2] == 0 && gb[2] != 0 && gb[2].isFinite, "2^0: slope 0 in a, log 2 times the weight in b: \(ga) \(gb)")
        XCTAssertTrue(ga[1].isInfinite, "0^0.5 has an infinite slope in a, as in PyTorch: \(ga)")
    }

    /// f32 to f32 is the identity; from or to i64 no gradient flows.
    func testCast() throws { try unary(.cast, ["to": .string("f32")], values: { c, n in c.uniform(n) }) }

    func testAbs() throws { try unary(.abs, values: { c, n in c.awayFromZero(n) }) }
    func testErf() throws { try unary(.erf, values: { c, n in c.uniform(n, -2, 2) }) }
    func testHardSigmoid() throws {
        // alpha x + beta in steps of 0.02 offset by 0.01: none within eps of the kinks at 0 and 1.
        let values = (0..<60).map { Float($0 - 30) * 0.1 + 0.05 }
        try unary(.hardSigmoid, ["alpha": .float(0.2), "beta": .float(0.5)], shape: [6, 10], values: { _, _ in values })
    }
}

/// pad, gather, lrn and conv_transpose2d.
final class GradientCheckONNXMovementTests: XCTestCase {
    func testPad() throws {
        for (pads, mode) in [([1, 0, 2, 2], "constant"), ([2, 1, 1, 3], "reflect"), ([0, 3, 2, 1], "edge"), ([-1, 1, 0, -2], "constant"),
                             ([5, 2, 1, 7], "wrap")] {
            let c = GradientCheckGraph("pad_\(mode)")
            let x = c.param("x", [4, 5])
            try c.finishWithWeightedSum(try c.emit(.pad, [x], ["pads": .ints(pads), "mode": .string(mode), "pad_value": .float(0.5)]))
            try checkGradients(c, expect: ["x"])
        }
    }

    func testGatherWithRepeatedIndices() throws {
        let c = GradientCheckGraph("gather")
        let x = c.param("x", [3, 4, 2])
        let indices = c.ids("indices", Shape(known: [2, 2]), [3, 0, 3, 1])
        try c.finishWithWeightedSum(try c.emit(.gather, [x, indices], ["axis": .int(1)]))
        try checkGradients(c, expect: ["x"])
    }

    func testLRN() throws {
        for size in [1, 3, 4] {
            let c = GradientCheckGraph("lrn\(size)")
            let x = c.param("x", [2, 5, 2, 3])
            try c.finishWithWeightedSum(try c.emit(.lrn, [x], ["size": .int(size), "alpha": .float(0.5), "beta": .float(0.75), "bias": .float(1)]))
            try checkGradients(c, expect: ["x"])
        }
    }

    func testConvTranspose2d() throws {
        for (groups, stride, pads, dilation, extra) in [(1, [2, 2], [1, 1, 1, 1], [1, 1], [1, 0]), (2, [1, 2], [0, 1, 1, 0], [2, 1], [0, 1])] {
            let c = GradientCheckGraph("convT")
            let x = c.param("x", [2, 4, 3, 4])
            let w = c.param("w", [4, 6 / groups, 3, 2])
            let b = c.param("bias", [6])
            try c.finishWithWeightedSum(try c.emit(.convTranspose2d, [x, w, b], [
                "stride": .ints(stride), "padding": .ints(pads), "dilation": .ints(dilation), "groups": .int(groups),
                "output_padding": .ints(extra),
            ]))
            try checkGradients(c, expect: ["x", "w", "bias"])
        }
    }

    func testReduceMaxAndMin() throws {
        for op in [OpDef.reduceMax, .reduceMin] {
            let c = GradientCheckGraph(op.name)
            // Distinct values: the winner does not change under the perturbation.
            let x = c.param("x", [3, 4, 5], c.distinct(60))
            try c.finishWithWeightedSum(try c.emit(op, [x], ["axes": .ints([0, 2]), "keepdims": .bool(true)]))
            try checkGradients(c, expect: ["x"])
        }
    }
}
