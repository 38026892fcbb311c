import GraphIR
import Passes
import Runtime
import XCTest

/// Inputs taken reduced (`reduced-inputs`): fed as a tensor, by a writer that writes the whole
/// feed, or by one that reduces while it gathers, the graph computes the bits it computed with
/// the reduction node, at one thread and at two; bad feeds are errors as before.
final class ReducedInputsEquivalenceTests: XCTestCase {
    let data = TestData(seed: 41)

    /// r = the reduction `op` of x (f32 [B, dims...]) over `axes`, y = r · r.
    func graph(_ dims: [Int], _ op: OpDef, axes: [Int], keepdims: Bool = false) throws -> Graph {
        let b = GraphBuilder(name: "reduced")
        let x = b.input("x", .f32(Shape([.symbol("B")] + dims.map { .known($0) })))
        var attributes: Attributes = ["axes": .ints(axes)]
        if keepdims { attributes["keepdims"] = .bool(true) }
        let r = try b.emit(op, [x], attributes)
        b.outputs = [("y", try b.emit(.mul, [r, r])), ("r", r)]
        return b.finish()
    }

    /// Batch item i of x is row `picks[i]` of `table`: what a writer gathering from a table feeds.
    func writers(table: HostTensor, picks: [Int]) -> (whole: FeedWriter, reducing: FeedWriter, itemwise: FeedWriter) {
        let item = table.shape.dropFirst().reduce(1, *)
        let shape = [picks.count] + Array(table.shape.dropFirst())
        let values = table.floats
        let whole = FeedWriter(shape: shape) { p, _ in
            let out = p.assumingMemoryBound(to: Float.self)
            for (i, r) in picks.enumerated() { for j in 0..<item { out[i * item + j] = values[r * item + j] } }
        }
        let reducing = FeedWriter(shape: shape, write: whole.write) { feed, p, pool in
            values.withUnsafeBufferPointer { t in
                guard let base = t.baseAddress else { return }
                feed.reduce(items: { base + picks[$0] * item }, into: p, pool: pool)
            }
        }
        // Each item reduced on its own (`batch(of: 1)`), as a cache of reduced rows does.
        let itemwise = FeedWriter(shape: shape, write: whole.write) { feed, p, pool in
            values.withUnsafeBufferPointer { t in
                guard let base = t.baseAddress else { return }
                for (i, r) in picks.enumerated() {
                    feed.batch(of: 1).reduce(items: { _ in base + r * item }, into: p + i * feed.reducedItemCount * 4, pool: pool)
                }
            }
        }
        return (whole, reducing, itemwise)
    }

    func testReducedFeedsGiveTheReductionNodesBits() throws {
        let cases: [([Int], OpDef, [Int], Bool, Int)] = [
            ([40, 300], .mean, [1], false, 5),     // a mean over regions, rows split over the pool
            ([40, 300], .mean, [1], false, 1),     // one item: 256-column blocks
            ([7, 3, 33], .sum, [1, 2], true, 4),   // a block of two axes, kept as 1s
            ([7, 3, 33], .mean, [3], false, 3),    // the last axis: gathered into scratch first
            ([7, 3, 33], .mean, [1, 3], false, 2), // not adjacent: the general loop
        ]
        for (dims, op, axes, keepdims, batch) in cases {
            let what = "\(op.name) over \(axes) of [\(batch), \(dims)]"
            let plain = try graph(dims, op, axes: axes, keepdims: keepdims)
            let taken = try Pass.reducedInputs.run(plain, .init())
            let x = try XCTUnwrap(taken.input(named: "x"))
            XCTAssertNotNil(try FeedReduction.of(taken[x]), what)
            XCTAssertFalse(taken.nodes.contains { $0.op == op }, what)
            let store = ParameterStore()
            try store.initialise(from: plain, seed: 3)
            let table = data.floats([batch + 2] + dims)
            let picks = (0..<batch).map { ($0 * 3 + 1) % (batch + 2) }
            let fed = try writers(table: table, picks: picks).whole.tensor()
            let expected = try Executor(graph: plain, options: ExecutionOptions(threads: 1)).run(feeds: ["x": fed], parameters: store)
            for threads in [1, 2] {
                let ex = try Executor(graph: taken, options: ExecutionOptions(threads: threads))
                let (whole, reducing, itemwise) = writers(table: table, picks: picks)
                // Twice each: the second run reuses the plan (and the scratch a whole write used).
                for _ in 0..<2 {
                    XCTAssertEqual(try ex.run(feeds: ["x": fed], parameters: store), expected, "\(what), tensor, \(threads) threads")
                    for (how, w) in [("whole write", whole), ("reducing write", reducing), ("item by item", itemwise)] {
                        try ex.execute(feeds: [:], writing: ["x": w], parameters: store)
                        XCTAssertEqual(ex.outputBuffer(named: "y").map(Array.init), expected["y"]?.floats, "\(what), \(how), \(threads) threads")
                        XCTAssertEqual(ex.outputBuffer(named: "r").map(Array.init), expected["r"]?.floats, "\(what), \(how), \(threads) threads")
                    }
                }
            }
        }
    }

    /// The caller feeds what the model declares: the reduced shape, another size or type, or
    /// a shape that binds B two ways are errors, and a refused writer is never called.
    func testBadFeedsOfAReducedInputAreErrors() throws {
        let taken = try Pass.reducedInputs.run(try graph([6, 4], .mean, axes: [1]), .init())
        let store = ParameterStore()
        try store.initialise(from: taken, seed: 3)
        let ex = try Executor(graph: taken, options: ExecutionOptions(threads: 2))
        func refused(_ feeds: [String: HostTensor], _ part: String, written: [String: FeedWriter] = [:]) {
            XCTAssertThrowsError(try ex.execute(feeds: feeds, writing: written, parameters: store)) { e in
                XCTAssertTrue("\(e)".contains(part), "'\(part)' not in: \(e)")
            }
        }
        refused(["x": data.floats([2, 4])], "rank 3, not 2")
        refused(["x": data.floats([2, 5, 4])], "dimension 1 must be 6, not 5")
        refused(["x": HostTensor(shape: [2, 6, 4], ints: [Int64](repeating: 0, count: 48))], "feed 'x' is i64")
        refused(["x": HostTensor(shape: [2, 6, 4], floats: [1, 2])], "holds 2 values")
        var wrote = false
        let never = FeedWriter(shape: [2, 6, 3], write: { _, _ in wrote = true }, writeReduced: { _, _, _ in wrote = true })
        refused([:], "dimension 2 must be 4, not 3", written: ["x": never])
        refused([:], "missing feed 'x' (f32[B,6,4])")
        // A reduced value the plan could hold, fed from more elements than any buffer may have.
        refused([:], "more than \(maxBLASElementCount) elements", written: ["x": FeedWriter(shape: [1 << 28, 6, 4], write: { _, _ in wrote = true })])
        XCTAssertFalse(wrote)
        struct Unreadable: Error {}
        XCTAssertThrowsError(try ex.execute(feeds: [:], writing: ["x": FeedWriter(shape: [2, 6, 4], write: { _, _ in },
                                                                                   writeReduced: { _, _, _ in throw Unreadable() })],
                                            parameters: store)) { XCTAssertTrue($0 is Unreadable, "\($0)") }
        XCTAssertEqual(try ex.run(feeds: ["x": data.floats([3, 6, 4])], parameters: store)["y"]?.shape, [3, 4])
    }
}
