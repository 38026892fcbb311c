import GraphIR
import Runtime
import XCTest

/// Feeds written straight into the executor's input memory (`FeedWriter`) run the graph as
/// the same values given as tensors do, are checked as tensors are, and a writer's error ends
/// the run before any kernel.
final class FeedWriterTests: XCTestCase {
    let data = TestData(seed: 29)

    /// y = x·Wᵀ (x f32 [B, 4]), e = the table rows that ids (i64 [B]) pick.
    func graph() throws -> Graph {
        let b = GraphBuilder(name: "feeds")
        let x = b.input("x", .f32(Shape([.symbol("B"), .known(4)])))
        let ids = b.input("ids", .i64(Shape([.symbol("B")])))
        let w = b.parameter("w", .f32([3, 4]), initializer: ["init": .string("uniform"), "bound": .float(0.5)])
        let table = b.parameter("table", .f32([5, 2]), initializer: ["init": .string("uniform"), "bound": .float(0.5)])
        b.outputs = [("y", try b.emit(.matmul, [x, w], ["transpose_b": .bool(true)])),
                     ("e", try b.emit(.embedding, [ids, table]))]
        return b.finish()
    }

    func writer(_ t: HostTensor) -> FeedWriter {
        FeedWriter(shape: t.shape, dtype: t.dtype) { p, _ in
            switch t.storage {
            case .f32(let v): v.withUnsafeBytes { if let s = $0.baseAddress { p.copyMemory(from: s, byteCount: $0.count) } }
            case .i64(let v): v.withUnsafeBytes { if let s = $0.baseAddress { p.copyMemory(from: s, byteCount: $0.count) } }
            }
        }
    }

    func testWrittenFeedsGiveTheResultsOfTensorFeeds() throws {
        let g = try graph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 4)
        let byTensor = try Executor(graph: g, options: ExecutionOptions())
        let byWriter = try Executor(graph: g, options: ExecutionOptions())
        // Two batch sizes: each binding's plan gets its own input memory, written every run.
        for (rows, ids) in [(3, [Int64(4), 0, 2]), (2, [1, 1]), (3, [0, 3, 1])] {
            let x = data.floats([rows, 4])
            let idt = HostTensor(shape: [rows], ints: ids)
            let expected = try byTensor.run(feeds: ["x": x, "ids": idt], parameters: store)
            try byWriter.execute(feeds: ["ids": idt], writing: ["x": writer(x)], parameters: store)
            XCTAssertEqual(byWriter.outputBuffer(named: "y").map(Array.init), expected["y"]?.floats)
            try byWriter.execute(feeds: [:], writing: ["x": writer(x), "ids": writer(idt)], parameters: store)
            XCTAssertEqual(byWriter.outputBuffer(named: "e").map(Array.init), expected["e"]?.floats)
            XCTAssertEqual(try writer(x).tensor(), x)
            XCTAssertEqual(try FeedWriter.tensors(["ids": idt], adding: ["x": writer(x)]), ["x": x, "ids": idt])
        }
    }

    func testWrittenFeedsAreCheckedAsTensorFeeds() throws {
        let g = try graph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 4)
        let ex = try Executor(graph: g, options: ExecutionOptions())
        let ids = HostTensor(shape: [2], ints: [0, 1])
        var wrote = false
        let untouched = FeedWriter(shape: [2, 5]) { _, _ in wrote = true }
        func check(_ feeds: [String: HostTensor], _ written: [String: FeedWriter], _ parts: [String]) {
            XCTAssertThrowsError(try ex.execute(feeds: feeds, writing: written, parameters: store)) { e in
                for p in parts { XCTAssertTrue("\(e)".contains(p), "'\(p)' not in: \(e)") }
            }
        }
        check(["ids": ids], ["x": untouched], ["feed 'x'", "dimension 1 must be 4"])
        check(["ids": ids], ["x": FeedWriter(shape: [2, 4], dtype: .i64) { _, _ in wrote = true }], ["feed 'x' is i64"])
        check(["ids": ids], ["x": FeedWriter(shape: [3, 4]) { _, _ in wrote = true }], ["feed 'x' bound B = 3", "binding B = 2"])
        check(["ids": ids, "x": data.floats([2, 4])], ["x": writer(data.floats([2, 4]))], ["feed 'x' is given twice"])
        check([:], ["x": writer(data.floats([2, 4]))], ["missing feed 'ids'", "'x'"])
        XCTAssertFalse(wrote, "a writer of a refused feed is never called")
        // Ids a writer wrote are checked against their table before the node that reads them.
        check(["x": data.floats([2, 4])], ["ids": writer(HostTensor(shape: [2], ints: [0, 5]))], ["5"])
        struct Unreadable: Error {}
        XCTAssertThrowsError(try ex.execute(feeds: ["ids": ids], writing: ["x": FeedWriter(shape: [2, 4]) { _, _ in throw Unreadable() }],
                                            parameters: store)) { XCTAssertTrue($0 is Unreadable, "\($0)") }
    }
}

extension FeedWriterTests {
    /// `tensor()` (also run by `FeedWriter.tensors` when a checked step locates a non-finite
    /// value) refuses a shape it cannot hold instead of trapping on the element count's
    /// overflow, a negative count, or allocating terabytes; the writer is never called.
    func testTensorOfAShapeItCannotHoldIsAnError() {
        var wrote = false
        for shape in [[1 << 40, 1 << 40], [-2, 3], [-1, -1], [1 << 31, 4]] {
            XCTAssertThrowsError(try FeedWriter(shape: shape) { _, _ in wrote = true }.tensor(), "\(shape)") { e in
                XCTAssertTrue("\(e)".contains("\(shape)"), "\(e)")
            }
        }
        XCTAssertFalse(wrote)
        XCTAssertEqual(try FeedWriter(shape: [0, 3]) { _, _ in }.tensor(), HostTensor(shape: [0, 3], floats: []))
    }

    /// The executor refuses a written feed whose shape overflows the plan's sizes before
    /// calling its writer (the plan is never made for it).
    func testAWrittenShapeTooLargeForThePlanIsRefused() throws {
        let g = try graph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 4)
        let ex = try Executor(graph: g, options: ExecutionOptions())
        var wrote = false
        let huge = 1 << 62
        XCTAssertThrowsError(try ex.execute(feeds: [:], writing: ["x": FeedWriter(shape: [huge, 4]) { _, _ in wrote = true },
                                                                 "ids": FeedWriter(shape: [huge], dtype: .i64) { _, _ in wrote = true }],
                                            parameters: store)) { XCTAssertTrue("\($0)".contains("elements"), "\($0)") }
        XCTAssertFalse(wrote)
    }

    /// A writer that throws after writing part of its input leaves nothing behind: the next
    /// run, with a good writer, gives the results of tensor feeds (TrainerTests: a trainer's
    /// failed step).
    func testAWriterThatThrowsHalfwayDoesNotAffectTheNextRun() throws {
        let g = try graph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 4)
        let ex = try Executor(graph: g, options: ExecutionOptions(threads: 2))
        let reference = try Executor(graph: g, options: ExecutionOptions(threads: 2))
        struct Broken: Error {}
        let x = data.floats([3, 4]), ids = HostTensor(shape: [3], ints: [4, 0, 2])
        let halfway = FeedWriter(shape: [3, 4]) { p, _ in
            p.initializeMemory(as: Float.self, repeating: .nan, count: 6)
            throw Broken()
        }
        let idsHalfway = FeedWriter(shape: [3], dtype: .i64) { p, _ in
            p.initializeMemory(as: Int64.self, repeating: 99, count: 3)   // out of the table: never read
            throw Broken()
        }
        let expected = try reference.run(feeds: ["x": x, "ids": ids], parameters: store)
        try ex.execute(feeds: ["x": x, "ids": ids], parameters: store)
        XCTAssertThrowsError(try ex.execute(feeds: ["ids": ids], writing: ["x": halfway], parameters: store)) { XCTAssertTrue($0 is Broken) }
        XCTAssertThrowsError(try ex.execute(feeds: ["x": x], writing: ["ids": idsHalfway], parameters: store)) { XCTAssertTrue($0 is Broken) }
        try ex.execute(feeds: ["ids": ids], writing: ["x": writer(x)], parameters: store)
        XCTAssertEqual(ex.outputBuffer(named: "y").map(Array.init), expected["y"]?.floats)
        XCTAssertEqual(ex.outputBuffer(named: "e").map(Array.init), expected["e"]?.floats)
    }
}
