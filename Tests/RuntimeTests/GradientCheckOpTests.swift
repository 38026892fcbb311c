import GraphIR
import Passes
import Runtime
import XCTest

/// Every differentiable op on its own: op -> multiply by a fixed random tensor -> sum -> loss,
/// its gradient rule checked against central differences.
final class GradientCheckOpTests: XCTestCase {
    let B = Dim.symbol("B")

    func testComparisonRejectsWrongGradients() {
        let numeric = [0.5, -0.25, 0.125, 1.0, -2.0]
        let indices = Array(numeric.indices)
        func passes(_ analytic: [Float]) -> Bool {
            GradientComparison("t", indices: indices, analytic: analytic, numeric: numeric, rtol: 1e-2, atol: 1e-3, noise: 1e-6).passes
        }
        XCTAssertTrue(passes(numeric.map { Float($0 * 1.001) }))
        XCTAssertFalse(passes(numeric.map { Float($0 * 1.05) }), "5% too large")
        XCTAssertFalse(passes([0.5, -0.25, 0.125, 1.0, 2.0]), "one sign flipped")
        XCTAssertFalse(passes([0.5, -0.25, 0, 1.0, -2.0]), "one element missing")
        // A gradient that is zero in exact arithmetic is judged against the noise.
        let tiny = GradientComparison("z", indices: [0, 1], analytic: [0, 0], numeric: [3e-7, -2e-7], rtol: 1e-2, atol: 1e-3, noise: 1e-6)
        XCTAssertTrue(tiny.passes)
        let wrong = GradientComparison("z", indices: [0, 1], analytic: [1e-3, 0], numeric: [3e-7, -2e-7], rtol: 1e-2, atol: 1e-3, noise: 1e-6)
        XCTAssertFalse(wrong.passes)
    }

    func testFrozenKinksKeepValuesAndRemoveCrossings() throws {
        // relu(x) then a 2x2 max pool, frozen at x: the same output at x, and after moving one
        // element across 0 and past its window's maximum the frozen graph keeps the base pattern.
        let c = GradientCheckGraph("frozen")
        let values: [Float] = [0.3, -0.2, 0.1, 0.4, -0.5, 0.6, 0.7, -0.8, 0.9, 1.0, -1.1, 1.2, 0.05, 1.4, 1.5, -1.6]
        let x = c.param("x", [1, 1, 4, 4], values)
        try c.finishWithWeightedSum(try c.maxpool(try c.relu(x), 2))
        let real = try Executor(graph: c.graph, options: ExecutionOptions())
        let before = try real.run(feeds: c.feeds, parameters: c.store)
        let (frozen, feeds) = try c.frozen(at: real)
        let frozenRun = try Executor(graph: frozen, options: ExecutionOptions())
        XCTAssertEqual(try frozenRun.run(feeds: feeds, parameters: c.store)["y"], before["y"])
        XCTAssertEqual(before["y"]?.floats, [0.6, 0.7, 1.4, 1.5])
        // x[1] = -0.2 becomes 0.65: the real ReLU passes it and the pool's winner changes; the
        // frozen ReLU still zeroes it and the frozen pool keeps its winner.
        c.store.update("x") { $0[1] = 0.65 }
        XCTAssertEqual(try real.run(feeds: c.feeds, parameters: c.store)["y"]?.floats, [0.65, 0.7, 1.4, 1.5])
        XCTAssertEqual(try frozenRun.run(feeds: feeds, parameters: c.store)["y"]?.floats, [0.6, 0.7, 1.4, 1.5])
    }

    /// op(x) for one parameter x of `shape` filled with `values`.
    func checkUnary(_ op: OpDef, _ attrs: Attributes = [:], shape: [Int] = [3, 4], values: (GradientCheckGraph, Int) -> [Float],
                    eps: Double = 1e-2, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = GradientCheckGraph(op.name)
        let x = c.param("x", shape, values(c, shape.reduce(1, *)))
        try c.finishWithWeightedSum(try c.emit(op, [x], attrs))
        try checkGradients(c, eps: eps, expect: ["x"], file: file, line: line)
    }

    func testRelu() throws { try checkUnary(.relu, values: { c, n in c.awayFromZero(n) }) }
    func testSigmoid() throws { try checkUnary(.sigmoid, values: { c, n in c.uniform(n, -3, 3) }) }
    func testTanh() throws { try checkUnary(.tanh, values: { c, n in c.uniform(n, -2, 2) }) }
    func testExp() throws { try checkUnary(.exp, values: { c, n in c.uniform(n, -1, 1) }) }
    func testLog() throws { try checkUnary(.log, values: { c, n in c.uniform(n, 0.5, 2) }) }
    func testNeg() throws { try checkUnary(.neg, values: { c, n in c.uniform(n) }) }
    func testScale() throws { try checkUnary(.scale, ["factor": .float(-2.5)], values: { c, n in c.uniform(n) }) }

    func testClampPassesGradientOnlyInsideTheRange() throws {
        // Values in steps of 0.1 offset by 0.05: none within eps of the bounds ±0.5.
        let c = GradientCheckGraph("clamp")
        let values = (0..<20).map { Float($0 - 10) * 0.1 + 0.05 }
        let x = c.param("x", [4, 5], values)
        try c.finishWithWeightedSum(try c.emit(.clamp, [x], ["min": .float(-0.5), "max": .float(0.5)]))
        let grads = try checkGradients(c, eps: 1e-2, expect: ["x"])
        let inside = values.indices.filter { abs(values[$0]) < 0.5 }
        let weights = try XCTUnwrap(c.feeds["R"]?.floats)
        for i in values.indices {
            XCTAssertEqual(grads["x"]?[i], inside.contains(i) ? weights[i] : 0, "element \(i) = \(values[i])")
        }
    }

    /// a (op) b with a [2,3,4] and b broadcasting from `bShape`; both trainable.
    func checkBinary(_ op: OpDef, bShape: [Int], bValues: ((GradientCheckGraph, Int) -> [Float])? = nil,
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let c = GradientCheckGraph(op.name + "\(bShape)")
        let a = c.param("a", [2, 3, 4])
        let n = bShape.reduce(1, *)
        let b = c.param("b", bShape, bValues?(c, n) ?? c.uniform(n))
        try c.finishWithWeightedSum(try c.emit(op, [a, b]))
        try checkGradients(c, expect: ["a", "b"], file: file, line: line)
    }

    func testAddBroadcasting() throws {
        try checkBinary(.add, bShape: [2, 3, 4])
        try checkBinary(.add, bShape: [4])
        try checkBinary(.add, bShape: [3, 1])
        try checkBinary(.add, bShape: [])
    }
    func testSubBroadcasting() throws {
        try checkBinary(.sub, bShape: [2, 3, 4])
        try checkBinary(.sub, bShape: [1, 3, 1])
    }
    func testMulBroadcasting() throws {
        try checkBinary(.mul, bShape: [2, 3, 4])
        try checkBinary(.mul, bShape: [3, 4])
        try checkBinary(.mul, bShape: [2, 1, 1])
    }
    func testDivBroadcasting() throws {
        let awayFromZero: (GradientCheckGraph, Int) -> [Float] = { c, n in c.uniform(n, 0.5, 1.5) }
        try checkBinary(.div, bShape: [2, 3, 4], bValues: awayFromZero)
        try checkBinary(.div, bShape: [4], bValues: awayFromZero)
        try checkBinary(.div, bShape: [2, 3, 1], bValues: awayFromZero)
    }

    func testBroadcastingAgainstABatchInput() throws {
        // A bias [4] added to a symbolic-batch input, times a weight: both parameters reduce over B.
        let c = GradientCheckGraph("bias", bindings: ["B": 3])
        let x = c.input("x", .f32(Shape([B, .known(4)])))
        let bias = c.param("bias", [4])
        let w = c.param("w", [1, 4])
        try c.finishWithWeightedSum(try c.emit(.mul, [try c.emit(.add, [x, bias]), w]))
        try checkGradients(c, expect: ["bias", "w"])
    }

    func checkReduction(_ op: OpDef, axes: [Int], keepdims: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = GradientCheckGraph("\(op.name)\(axes)\(keepdims)")
        let x = c.param("x", [2, 3, 4])
        try c.finishWithWeightedSum(try c.emit(op, [x], ["axes": .ints(axes), "keepdims": .bool(keepdims)]))
        try checkGradients(c, expect: ["x"], file: file, line: line)
    }

    func testSum() throws {
        try checkReduction(.sum, axes: [1], keepdims: false)
        try checkReduction(.sum, axes: [0], keepdims: false)
        try checkReduction(.sum, axes: [-1], keepdims: true)
        try checkReduction(.sum, axes: [0, 2], keepdims: false)
    }
    func testMean() throws {
        try checkReduction(.mean, axes: [1], keepdims: false)
        try checkReduction(.mean, axes: [0, 2], keepdims: true)
        try checkReduction(.mean, axes: [2], keepdims: false)
    }

    func testReductionsOfSymbolicBatchTensors() throws {
        // Inner axes of a [B, 3, 4] tensor: the reduced axes come back as 1s next to B.
        for (op, axes, keep) in [(OpDef.sum, [1], false), (.mean, [2], false), (.mean, [0, 2], false), (.sum, [0, 1], true)] {
            let c = GradientCheckGraph("\(op.name)\(axes)", bindings: ["B": 3])
            let x = c.input("x", .f32(Shape([B, .known(3), .known(4)])))
            let w = c.param("w", [3, 4])
            try c.finishWithWeightedSum(try c.emit(op, [try c.emit(.mul, [x, w])], ["axes": .ints(axes), "keepdims": .bool(keep)]))
            try checkGradients(c, expect: ["w"])
        }
    }

    func testMeanOverTheSymbolicBatchCountsAtRunTime() throws {
        // The batch size is only known when the graph runs; run at two sizes.
        for batch in [2, 5] {
            let c = GradientCheckGraph("meanB", bindings: ["B": batch])
            let x = c.input("x", .f32(Shape([B, .known(3)])))
            let w = c.param("w", [3])
            try c.finishWithWeightedSum(try c.emit(.mean, [try c.emit(.mul, [x, w])], ["axes": .ints([0])]))
            try checkGradients(c, expect: ["w"])
        }
    }

    func checkMatmul(a: [Int], b: [Int], ta: Bool, tb: Bool, batch: Int? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let c = GradientCheckGraph("matmul", bindings: batch.map { ["B": $0] } ?? [:])
        let av: Value
        if batch != nil {
            // a[0] stands for the symbolic batch B: a = input [B, a[1...]] * parameter [a[1...]].
            let scaleShape = Array(a.dropFirst())
            let x = c.input("x", .f32(Shape([B] + scaleShape.map { Dim.known($0) })))
            av = try c.emit(.mul, [x, c.param("a", scaleShape)])
        } else {
            av = c.param("a", a)
        }
        let bv = c.param("b", b)
        try c.finishWithWeightedSum(try c.emit(.matmul, [av, bv], ["transpose_a": .bool(ta), "transpose_b": .bool(tb)]))
        try checkGradients(c, expect: ["a", "b"], file: file, line: line)
    }

    func testMatmulTransposeFlags() throws {
        try checkMatmul(a: [3, 4], b: [4, 5], ta: false, tb: false)
        try checkMatmul(a: [3, 4], b: [5, 4], ta: false, tb: true)
        try checkMatmul(a: [4, 3], b: [4, 5], ta: true, tb: false)
        try checkMatmul(a: [4, 3], b: [5, 4], ta: true, tb: true)
    }

    func testMatmulBatched() throws {
        try checkMatmul(a: [2, 3, 4], b: [2, 4, 5], ta: false, tb: false)
        try checkMatmul(a: [2, 4, 3], b: [2, 5, 4], ta: true, tb: true)
        try checkMatmul(a: [2, 2, 3, 4], b: [2, 2, 5, 4], ta: false, tb: true)
    }

    func testMatmulSharedRightOperand() throws {
        // b is 2-D and a has leading dimensions: b's gradient sums over them.
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = ta ? [2, 3, 4, 3] : [2, 3, 3, 4]
            let b = tb ? [5, 4] : [4, 5]
            try checkMatmul(a: a, b: b, ta: ta, tb: tb)
            try checkMatmul(a: Array(a.dropFirst()), b: b, ta: ta, tb: tb, batch: 3)
        }
    }

    /// contract_rows(a, b) = Σ over rows of aᵀb, rows spanning every leading axis (here a
    /// symbolic batch too).
    func testContractRows() throws {
        for (lead, batch) in [([6], nil), ([2, 3], nil), ([3], 2)] as [([Int], Int?)] {
            let c = GradientCheckGraph("contract_rows", bindings: batch.map { ["B": $0] } ?? [:])
            var a = c.param("a", lead + [4]), b = c.param("b", lead + [5])
            if batch != nil {
                // A leading symbolic axis: a = input [B, ...] * parameter, and b likewise.
                let x = c.input("x", .f32(Shape([Dim.symbol("B")] + (lead + [4]).map { Dim.known($0) })))
                let y = c.input("y", .f32(Shape([Dim.symbol("B")] + (lead + [5]).map { Dim.known($0) })))
                a = try c.emit(.mul, [x, a]); b = try c.emit(.mul, [y, b])
            }
            try c.finishWithWeightedSum(try c.emit(.contractRows, [a, b]))
            try checkGradients(c, expect: ["a", "b"])
        }
    }

    /// lstm_cell with a weighted sum over every block of its result (h, c', the gates and
    /// tanh c'), and with a symbolic batch.
    func testLSTMCell() throws {
        for batch in [nil, 2] as [Int?] {
            let c = GradientCheckGraph("lstm_cell", bindings: batch.map { ["B": $0] } ?? [:])
            var gates = c.param("gates", [3, 12], c.uniform(36, -2, 2)), state = c.param("c", [3, 3])
            if batch != nil {
                // A leading symbolic axis on both operands: input [B, ...] * parameter.
                gates = try c.emit(.mul, [c.input("x", .f32(Shape([Dim.symbol("B"), .known(3), .known(12)]))), gates])
                state = try c.emit(.mul, [c.input("y", .f32(Shape([Dim.symbol("B"), .known(3), .known(3)]))), state])
            }
            try c.finishWithWeightedSum(try c.emit(.lstmCell, [gates, state]))
            try checkGradients(c, expect: ["gates", "c"])
        }
    }

    func testConv2d() throws {
        for (stride, padding, bias) in [(1, 1, true), (2, 1, true), (1, 0, false), (2, 0, true)] {
            let c = GradientCheckGraph("conv")
            let x = c.param("x", [2, 3, 7, 6])
            let w = c.param("w", [4, 3, 3, 3])
            var ins = [x, w]
            if bias { ins.append(c.param("bias", [4])) }
            try c.finishWithWeightedSum(try c.emit(.conv2d, ins, ["stride": .ints([stride, stride]), "padding": .ints([padding, padding])]))
            try checkGradients(c, expect: bias ? ["x", "w", "bias"] : ["x", "w"])
        }
    }

    func testMaxpool2d() throws {
        for (kernel, stride, padding) in [(2, 2, 0), (3, 2, 1), (3, 1, 0)] {
            let c = GradientCheckGraph("pool")
            // Distinct values 0.05 apart, perturbed by 0.01: no window's maximum changes.
            let x = c.param("x", [2, 2, 6, 6], c.distinct(144))
            try c.finishWithWeightedSum(try c.emit(.maxpool2d, [x], ["kernel": .ints([kernel, kernel]), "stride": .ints([stride, stride]), "padding": .ints([padding, padding])]))
            try checkGradients(c, eps: 1e-2, expect: ["x"])
        }
    }

    func testBatchNormInference() throws {
        for shape in [[3, 4, 2, 3], [5, 4], [2, 4, 3]] {
            let c = GradientCheckGraph("bn\(shape)")
            let x = c.param("x", shape)
            let weight = c.param("weight", [4])
            let bias = c.param("bias", [4])
            let mean = c.param("running_mean", [4], nil, attributes: ["buffer": .bool(true)])
            let variance = c.param("running_var", [4], c.uniform(4, 0.5, 2), attributes: ["buffer": .bool(true)])
            try c.finishWithWeightedSum(try c.emit(.batchNorm, [x, weight, bias, mean, variance], ["eps": .float(1e-5)]))
            try checkGradients(c, expect: ["x", "weight", "bias"])
        }
    }

    func testReshapeAndTranspose() throws {
        let c = GradientCheckGraph("movement")
        let x = c.param("x", [2, 3, 4])
        let r = try c.emit(.reshape, [x], ["shape": .shape(Shape(known: [4, -1]))])
        let t = try c.emit(.transpose, [try c.emit(.reshape, [r], ["shape": .shape(Shape(known: [2, 3, 4]))])], ["perm": .ints([2, 0, 1])])
        // A second use through a different permutation: the two paths accumulate.
        let t2 = try c.emit(.transpose, [x], ["perm": .ints([2, 0, 1])])
        try c.finishWithWeightedSum(try c.emit(.mul, [t, t2]))
        try checkGradients(c, expect: ["x"])
    }

    func testConcat() throws {
        for axis in [0, 1, -1] {
            let c = GradientCheckGraph("concat")
            let a = c.param("a", [2, 3, 2]), b = c.param("b", [2, 3, 2]), d = c.param("d", [2, 3, 2])
            try c.finishWithWeightedSum(try c.emit(.concat, [a, b, d, a], ["axis": .int(axis)]))
            try checkGradients(c, expect: ["a", "b", "d"])
        }
    }

    func testSliceAndSelect() throws {
        let c = GradientCheckGraph("slice")
        let x = c.param("x", [3, 5, 2])
        let s = try c.emit(.slice, [x], ["axis": .int(1), "start": .int(1), "end": .int(4)])
        let s2 = try c.emit(.select, [x], ["axis": .int(1), "index": .int(2)])
        // Overlapping uses of element column 2.
        let product = try c.emit(.mul, [s, try c.emit(.reshape, [s2], ["shape": .shape(Shape(known: [3, 1, 2]))])])
        try c.finishWithWeightedSum(product)
        try checkGradients(c, expect: ["x"])
    }

    func testStack() throws {
        for axis in [0, 1, -1] {
            let c = GradientCheckGraph("stack")
            let a = c.param("a", [3, 2]), b = c.param("b", [3, 2])
            try c.finishWithWeightedSum(try c.emit(.stack, [a, b, a], ["axis": .int(axis)]))
            try checkGradients(c, expect: ["a", "b"])
        }
    }

    func testEmbeddingWithRepeatedIds() throws {
        let c = GradientCheckGraph("embedding")
        let ids = c.ids("ids", Shape(known: [2, 3]), [1, 4, 1, 0, 4, 4])
        let w = c.param("w", [6, 3])
        try c.finishWithWeightedSum(try c.emit(.embedding, [ids, w]))
        let grads = try checkGradients(c, expect: ["w"])
        // Rows never looked up get exactly zero.
        for row in [2, 3, 5] { XCTAssertEqual(Array(grads["w"]?[(row * 3)..<(row * 3 + 3)] ?? []), [0, 0, 0]) }
    }

    func testSoftmaxAndLogSoftmax() throws {
        for op in [OpDef.softmax, .logSoftmax] {
            for axis in [1, -1, 0] {
                let c = GradientCheckGraph(op.name)
                let x = c.param("x", [2, 3, 4], nil)
                c.store.set("x", HostTensor(shape: [2, 3, 4], floats: c.uniform(24, -2, 2)))
                try c.finishWithWeightedSum(try c.emit(op, [x], ["axis": .int(axis)]))
                try checkGradients(c, expect: ["x"])
            }
        }
    }

    func testNLLLossWithIgnoreIndex() throws {
        let c = GradientCheckGraph("nll")
        let logp = c.param("logp", [5, 4])
        try c.finishWithNLL(logp, targets: [1, 0, 3, 0, 2], targetShape: Shape(known: [5]), ignoreIndex: 0)
        let grads = try checkGradients(c, expect: ["logp"])
        // Ignored rows get nothing; the others -1/3 at the target.
        let g = try XCTUnwrap(grads["logp"])
        XCTAssertEqual(Array(g[4..<8]), [0, 0, 0, 0])
        XCTAssertEqual(g[3 + 8], -1.0 / 3, accuracy: 1e-6)
    }

    func testDropoutMaskIsAConstant() throws {
        // In training mode the mask is random but fixed for a given run; x's gradient is the
        // mask times the upstream gradient, and nothing flows through the mask's own input.
        let c = GradientCheckGraph("dropout")
        let x = c.param("x", [4, 6])
        let mask = try c.emit(.dropoutMask, [x], ["p": .float(0.5)])
        c.builder.outputs.append(("mask", mask))
        try c.finishWithWeightedSum(try c.emit(.mul, [x, mask]))
        let d = try Autodiff.differentiate(c.graph)
        let run = try Executor(graph: d, options: ExecutionOptions(training: true, seed: 7)).run(feeds: c.feeds, parameters: c.store)
        let m = try XCTUnwrap(run["mask"]?.floats), r = try XCTUnwrap(c.feeds["R"]?.floats)
        XCTAssertTrue(m.contains(0) && m.contains(2), "a p=0.5 mask over 24 values has both zeros and 2s: \(m)")
        XCTAssertEqual(try XCTUnwrap(run["grad:x"]?.floats), zip(m, r).map { $0 * $1 })
        // Evaluation mode (mask of ones): the usual numeric check.
        try checkGradients(c, expect: ["x"])
    }

    func testShapeHelpersAsForwardOps() throws {
        let c = GradientCheckGraph("helpers")
        let x = c.param("x", [3, 1])
        let ref = c.param("ref", [2, 3, 4])
        let stretched = try c.emit(.broadcastLike, [x, ref])
        let reduced = try c.emit(.reduceLike, [try c.emit(.mul, [stretched, ref]), x])
        let reshaped = try c.emit(.reshapeLike, [reduced, try c.emit(.reshape, [x], ["shape": .shape(Shape(known: [1, 3]))])])
        try c.finishWithWeightedSum(try c.emit(.mul, [reshaped, reshaped]))
        try checkGradients(c, expect: ["x", "ref"])
    }
}
