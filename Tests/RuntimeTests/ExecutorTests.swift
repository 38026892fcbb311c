import GraphIR
@testable import Runtime
import XCTest

final class ExecutorTests: XCTestCase {
    let B = Dim.symbol("B"), T = Dim.symbol("T")
    let data = TestData(seed: 18)

    /// h = relu(x·Wᵀ + b), loss = mean(h).
    func linearGraph() throws -> (Graph, Value) {
        let b = GraphBuilder(name: "linear")
        let x = b.input("x", .f32(Shape([B, .known(4)])))
        let w = b.parameter("fc.weight", .f32([3, 4]), initializer: ["init": .string("uniform"), "bound": .float(0.5)])
        let bias = b.parameter("fc.bias", .f32([3]), initializer: ["init": .string("uniform"), "bound": .float(0.5)])
        let pre = try b.emit(.add, [try b.emit(.matmul, [x, w], ["transpose_b": .bool(true)]), bias])
        let h = try b.emit(.relu, [pre])
        b.outputs = [("h", h)]
        b.loss = try b.emit(.mean, [h], ["axes": .ints([0, 1])])
        let g = b.finish()
        return (g, pre)
    }

    func referenceLinear(_ x: HostTensor, _ store: ParameterStore) -> [Double] {
        let w = store.get("fc.weight")?.floats ?? [], bias = store.get("fc.bias")?.floats ?? []
        let rows = x.shape[0]
        var out: [Double] = []
        for r in 0..<rows {
            for o in 0..<3 {
                var s = Double(bias[o])
                for k in 0..<4 { s += Double(x.floats[r * 4 + k]) * Double(w[o * 4 + k]) }
                out.append(max(s, 0))
            }
        }
        return out
    }

    func testRunReturnsOutputsAndLossAndIntermediateValues() throws {
        let (g, pre) = try linearGraph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 3)
        let ex = try Executor(graph: g, options: ExecutionOptions())
        XCTAssertNil(ex.value(pre), "nothing computed yet")
        let x = data.floats([5, 4])
        let out = try ex.run(feeds: ["x": x], parameters: store)
        XCTAssertEqual(Set(out.keys), ["h", "loss"])
        let h = referenceLinear(x, store)
        assertClose(try XCTUnwrap(out["h"]), h, shape: [5, 3], "h")
        XCTAssertEqual(Double(try XCTUnwrap(out["loss"]?.scalar)), h.reduce(0, +) / 15, accuracy: 1e-6)
        XCTAssertEqual(out["loss"]?.shape, [])
        let preValue = try XCTUnwrap(ex.value(pre))
        XCTAssertEqual(preValue.shape, [5, 3])
        XCTAssertEqual(zip(preValue.floats, h).filter { $0.0 > 0 }.count, h.filter { $0 > 0 }.count)
    }

    /// OpenBLAS's thread count is process-wide: an executor with a pool runs it at one thread
    /// per chunk, and one without a pool at OpenBLAS's own count, whichever ran before.
    func testExecutorsWithoutAPoolRunOpenBLASAtItsOwnCount() throws {
        try XCTSkipIf(BLASInfo.defaultThreads < 2, "OpenBLAS at one thread: one either way")
        let (g, _) = try linearGraph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 3)
        let before = BLASInfo.threads
        defer { BLASInfo.setThreads(before) }
        let pooled = try Executor(graph: g, options: ExecutionOptions(threads: 2))
        let plain = try Executor(graph: g, options: ExecutionOptions())
        let x = data.floats([5, 4])
        for _ in 0..<2 {
            _ = try pooled.run(feeds: ["x": x], parameters: store)
            XCTAssertEqual(BLASInfo.threads, 1, "one OpenBLAS thread per chunk")
            _ = try plain.run(feeds: ["x": x], parameters: store)
            XCTAssertEqual(BLASInfo.threads, BLASInfo.defaultThreads)
        }
        _ = try Executor(graph: g, options: ExecutionOptions(threads: 2))
        _ = try Executor(graph: g, options: ExecutionOptions())
        XCTAssertEqual(BLASInfo.threads, BLASInfo.defaultThreads, "set when made, too")
    }

    func testBatchSizesRebindAndPlansAreReused() throws {
        let (g, _) = try linearGraph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 4)
        let ex = try Executor(graph: g, options: ExecutionOptions())
        var plans: [Int: BoundPlan] = [:]
        for rows in [2, 5, 2, 1, 5] {
            let x = data.floats([rows, 4])
            let out = try ex.run(feeds: ["x": x], parameters: store)
            assertClose(try XCTUnwrap(out["h"]), referenceLinear(x, store), shape: [rows, 3], "B = \(rows)")
            let plan = try XCTUnwrap(ex.lastPlan)
            if let earlier = plans[rows] { XCTAssertTrue(earlier === plan, "the plan for B = \(rows) is prepared once") }
            plans[rows] = plan
        }
    }

    func testTimingsAccumulatePerNodeWhenAskedFor() throws {
        let (g, _) = try linearGraph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 4)
        let ex = try Executor(graph: g, options: ExecutionOptions())
        _ = try ex.run(feeds: ["x": data.floats([64, 4])], parameters: store)
        XCTAssertEqual(ex.nodeSeconds, [], "off by default")
        ex.measuresTime = true
        for _ in 0..<3 { _ = try ex.run(feeds: ["x": data.floats([64, 4])], parameters: store) }
        XCTAssertEqual(ex.nodeSeconds.count, g.nodes.count)
        XCTAssertTrue(ex.nodeSeconds.allSatisfy { $0 >= 0 })
        let matmul = try XCTUnwrap(g.nodes.firstIndex { $0.op == .matmul })
        XCTAssertGreaterThan(ex.nodeSeconds[matmul], 0)
        XCTAssertEqual(ex.nodeSeconds[0], 0, "inputs run no kernel")
        ex.resetTimes()
        XCTAssertEqual(ex.nodeSeconds.reduce(0, +), 0)
    }

    func testParameterChangesReachTheNextRun() throws {
        let (g, _) = try linearGraph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 5)
        let ex = try Executor(graph: g, options: ExecutionOptions())
        let x = data.floats([3, 4])
        _ = try ex.run(feeds: ["x": x], parameters: store)
        store.set("fc.bias", HostTensor(shape: [3], floats: [10, 20, 30]))
        assertClose(try XCTUnwrap(try ex.run(feeds: ["x": x], parameters: store)["h"]), referenceLinear(x, store), "after set")
        XCTAssertTrue(store.update("fc.weight") { w in for i in w.indices { w[i] *= -2 } })
        assertClose(try XCTUnwrap(try ex.run(feeds: ["x": x], parameters: store)["h"]), referenceLinear(x, store), "after update")
        let other = ParameterStore()
        try other.initialise(from: g, seed: 99)
        assertClose(try XCTUnwrap(try ex.run(feeds: ["x": x], parameters: other)["h"]), referenceLinear(x, other), "another store")
        assertClose(try XCTUnwrap(try ex.run(feeds: ["x": x], parameters: store)["h"]), referenceLinear(x, store), "back to the first")
    }

    func assertRuntimeError(_ body: @autoclosure () throws -> Any, contains parts: [String],
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            XCTAssertTrue(e is RuntimeError, "\(type(of: e))", file: file, line: line)
            let text = String(describing: e)
            for p in parts { XCTAssertTrue(text.contains(p), "'\(p)' not in: \(text)", file: file, line: line) }
        }
    }

    func testBadFeedsGiveClearErrors() throws {
        let (g, _) = try linearGraph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 1)
        let ex = try Executor(graph: g, options: ExecutionOptions())
        assertRuntimeError(try ex.run(feeds: [:], parameters: store), contains: ["missing feed 'x'", "f32[B,4]"])
        assertRuntimeError(try ex.run(feeds: ["y": data.floats([2, 4])], parameters: store), contains: ["missing feed 'x'", "'y'"])
        assertRuntimeError(try ex.run(feeds: ["x": data.floats([2, 5])], parameters: store),
                           contains: ["feed 'x'", "[2, 5]", "f32[B,4]", "dimension 1 must be 4"])
        assertRuntimeError(try ex.run(feeds: ["x": data.floats([2, 2, 2])], parameters: store), contains: ["feed 'x'", "rank 2"])
        assertRuntimeError(try ex.run(feeds: ["x": HostTensor(shape: [2, 4], ints: [Int64](repeating: 0, count: 8))], parameters: store),
                           contains: ["feed 'x' is i64", "f32[B,4]"])
        assertRuntimeError(try ex.run(feeds: ["x": HostTensor(shape: [2, 4], floats: [1, 2, 3])], parameters: store),
                           contains: ["feed 'x'", "holds 3 values"])
    }

    func testInconsistentAndUnboundSymbols() throws {
        let b = GraphBuilder(name: "two")
        let x = b.input("x", .f32(Shape([B, .known(2)])))
        let y = b.input("y", .f32(Shape([B, .known(2)])))
        b.outputs = [("s", try b.emit(.add, [x, y]))]
        let g = b.finish()
        let ex = try Executor(graph: g, options: ExecutionOptions())
        assertRuntimeError(try ex.run(feeds: ["x": data.floats([2, 2]), "y": data.floats([3, 2])], parameters: ParameterStore()),
                           contains: ["feed 'y'", "B = 3", "feed 'x' bound B = 2"])

        // Only a parameter can carry a symbol no input declares.
        let hb = GraphBuilder(name: "unbound")
        _ = hb.input("x", .f32(Shape([B])))
        let c = hb.parameter("p", .f32(Shape([T])), initializer: ["init": .string("zeros")])
        hb.outputs = [("c", try hb.emit(.relu, [c]))]
        let h = hb.finish()
        let ex2 = try Executor(graph: h, options: ExecutionOptions())
        assertRuntimeError(try ex2.run(feeds: ["x": data.floats([4])], parameters: ParameterStore()),
                           contains: ["%1 (param)", "f32[T]", "no feed binds T", "feeds bind: B"])
    }

    func testMissingOrMisshapedParameters() throws {
        let (g, _) = try linearGraph()
        let ex = try Executor(graph: g, options: ExecutionOptions())
        let store = ParameterStore()
        assertRuntimeError(try ex.run(feeds: ["x": data.floats([2, 4])], parameters: store), contains: ["missing parameter 'fc.weight'", "f32[3,4]"])
        try store.initialise(from: g, seed: 1)
        store.set("fc.bias", HostTensor(zeros: [4]))
        assertRuntimeError(try ex.run(feeds: ["x": data.floats([2, 4])], parameters: store), contains: ["parameter 'fc.bias'", "[4]", "f32[3]"])
    }

    /// ids [B, 3] -> embedding, and the step-2 slice of the same ids -> embedding.
    func embeddingGraph() throws -> Graph {
        let b = GraphBuilder(name: "embed")
        let ids = b.input("ids", .i64(Shape([B, .known(3)])))
        let table = b.parameter("embed.weight", .f32([10, 3]), initializer: ["init": .string("normal"), "std": .float(1)])
        b.outputs = [("all", try b.emit(.embedding, [ids, table]))]
        let step = try b.emit(.select, [ids], ["axis": .int(1), "index": .int(2)])
        b.outputs.append(("step", try b.emit(.embedding, [step, table])))
        return b.finish()
    }

    func testOutOfRangeIdsAreErrorsNamingTheInputAndTable() throws {
        let g = try embeddingGraph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 2)
        let ex = try Executor(graph: g, options: ExecutionOptions())
        let ok = HostTensor(shape: [2, 3], ints: [0, 9, 3, 4, 5, 6])
        let out = try ex.run(feeds: ["ids": ok], parameters: store)
        XCTAssertEqual(out["step"]?.shape, [2, 3])
        XCTAssertEqual(Array(out["step"]?.floats[3..<6] ?? []), Array(store.get("embed.weight")?.floats[18..<21] ?? []))

        let bad = HostTensor(shape: [2, 3], ints: [0, 1, 2, 3, 12, 5])
        assertRuntimeError(try ex.run(feeds: ["ids": bad], parameters: store),
                           contains: ["input 'ids'", "id 12", "[1, 1]", "parameter 'embed.weight'", "10 rows"])
        let negative = HostTensor(shape: [2, 3], ints: [0, 1, 2, 3, 4, -1])
        // The whole-tensor lookup comes first in the graph; it reports position [1, 2].
        assertRuntimeError(try ex.run(feeds: ["ids": negative], parameters: store), contains: ["id -1", "[1, 2]"])
    }

    func testDerivedIdsNameTheirSource() throws {
        let b = GraphBuilder(name: "derived")
        let ids = b.input("captions", .i64(Shape([B, .known(4)])))
        let table = b.parameter("emb", .f32([5, 2]), initializer: ["init": .string("zeros")])
        let step = try b.emit(.select, [ids], ["axis": .int(1), "index": .int(3)])
        b.outputs = [("e", try b.emit(.embedding, [step, table]))]
        let g = b.finish()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 1)
        let ex = try Executor(graph: g, options: ExecutionOptions())
        assertRuntimeError(try ex.run(feeds: ["captions": HostTensor(shape: [1, 4], ints: [9, 9, 9, 7])], parameters: store),
                           contains: ["(select of input 'captions')", "id 7", "5 rows"])
    }

    func testOutOfRangeTargetsAreErrorsButIgnoreIndexIsAllowed() throws {
        let b = GraphBuilder(name: "nll")
        let lp = b.input("logp", .f32(Shape([B, .known(4)])))
        let t = b.input("y", .i64(Shape([B])))
        b.loss = try b.emit(.nllLoss, [lp, t], ["ignore_index": .int(-100)])
        let g = b.finish()
        let ex = try Executor(graph: g, options: ExecutionOptions())
        let logp = data.floats([3, 4], in: -3...0)
        let out = try ex.run(feeds: ["logp": logp, "y": HostTensor(shape: [3], ints: [3, -100, 0])], parameters: ParameterStore())
        XCTAssertEqual(Double(try XCTUnwrap(out["loss"]?.scalar)), -Double(logp.floats[3] + logp.floats[8]) / 2, accuracy: 1e-6)
        assertRuntimeError(try ex.run(feeds: ["logp": logp, "y": HostTensor(shape: [3], ints: [3, 4, 0])], parameters: ParameterStore()),
                           contains: ["input 'y'", "class 4", "[1]", "4 classes", "-100 to ignore"])
    }

    enum NoKernelOp: OpSpec {
        static let name = "no_kernel"
        static let arity = Arity.exactly(1)
        static let fusion = FusionClass.opaque
        static let attributes: [AttributeSpec] = []
        static func flops(_ q: CostQuery) -> Double { 0 }
        static func shape(_ q: ShapeQuery) throws -> TensorType { q.input(0) }
    }

    func testGraphsWithUnknownOpsOrBadArityAreRejected() throws {
        let b = GraphBuilder(name: "odd")
        let x = b.input("x", .f32([2]))
        try b.emit(OpDef(NoKernelOp.self), [x])
        let g = b.finish()
        assertRuntimeError(try Executor(graph: g, options: ExecutionOptions()), contains: ["no CPU kernel", "no_kernel (%1)"])

        let h = GraphBuilder(name: "arity")
        let y = h.append(Node(op: .input, inputs: [], attributes: ["name": .string("y")], type: .f32([2])))
        h.append(Node(op: .add, inputs: [y], type: .f32([2])))
        assertRuntimeError(try Executor(graph: h.finish(), options: ExecutionOptions()), contains: ["cannot run", "add %1", "wrong number of inputs"])

        // A node whose recorded type disagrees with its shape rule would make kernels
        // write past their buffers.
        let k = GraphBuilder(name: "mistyped")
        let z = k.append(Node(op: .input, inputs: [], attributes: ["name": .string("z")], type: .f32([2, 3])))
        k.append(Node(op: .relu, inputs: [z], type: .f32([4, 3])))
        assertRuntimeError(try Executor(graph: k.finish(), options: ExecutionOptions()), contains: ["cannot run", "relu %1", "f32[4,3]", "f32[2,3]"])
        let m = GraphBuilder(name: "bad attributes")
        let w = m.append(Node(op: .input, inputs: [], attributes: ["name": .string("w")], type: .f32([2, 3])))
        m.append(Node(op: .transpose, inputs: [w], attributes: ["perm": .ints([0, 0])], type: .f32([2, 2])))
        assertRuntimeError(try Executor(graph: m.finish(), options: ExecutionOptions()), contains: ["cannot run", "transpose %1", "perm [0, 0]"])
    }

    func testBufferPlansAreValidatedAndPluggable() throws {
        let (g, _) = try linearGraph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 6)
        let x = data.floats([2, 4])
        // A plan with generous, reversed placement works the same.
        let reversed: BufferPlanner = { _, sizes in
            var offsets: [Int] = [], end = 0
            for s in sizes.reversed() { offsets.insert(end, at: 0); end += (s + 127) / 64 * 64 }
            return BufferPlan(offsets: offsets, byteCount: end)
        }
        let ex = try Executor(graph: g, options: ExecutionOptions(), planner: reversed)
        assertClose(try XCTUnwrap(try ex.run(feeds: ["x": x], parameters: store)["h"]), referenceLinear(x, store), "reversed plan")
        let tooSmall: BufferPlanner = { _, sizes in BufferPlan(offsets: sizes.map { _ in 0 }, byteCount: 8) }
        let bad = try Executor(graph: g, options: ExecutionOptions(), planner: tooSmall)
        assertRuntimeError(try bad.run(feeds: ["x": x], parameters: store), contains: ["buffer plan", "outside an arena"])
    }
}
