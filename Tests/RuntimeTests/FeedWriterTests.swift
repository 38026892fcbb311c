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
