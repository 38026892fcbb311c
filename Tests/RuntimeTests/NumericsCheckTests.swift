import GraphIR
@testable import Runtime
import XCTest

/// `Executor.checksNumerics` / `locateNonFinite`: the first node whose output is not finite,
/// with its operands' ranges (taken before an in-place kernel overwrites them) and the feeds
/// and parameters that were already non-finite.
final class ExecutorNumericsTests: XCTestCase {
    let B = Dim.symbol("B")

    /// y = exp(log(x - 2) * w): log of a negative makes the first NaN, exp only passes it on.
    func graph() throws -> (Graph, log: Value) {
        let b = GraphBuilder(name: "numerics")
        b.location = SourceLocation(file: "m.swiftgraph", line: 3, column: 9)
        let x = b.input("x", .f32(Shape([B, .known(4)])))
        let w = b.parameter("w", .f32([4]), initializer: ["init": .string("ones")])
        let shifted = try b.emit(.scale, [x], ["factor": .float(-1)])
        b.location = SourceLocation(file: "m.swiftgraph", line: 4, column: 5)
        let log = try b.emit(.log, [shifted])
        b.location = SourceLocation(file: "m.swiftgraph", line: 5, column: 5)
        let y = try b.emit(.exp, [try b.emit(.mul, [log, w])])
        b.outputs = [("y", y)]
        return (b.finish(), log)
    }

    func testTheFirstNonFiniteOutputIsFoundWithItsOperandsRange() throws {
        let (g, log) = try graph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 1)
        let e = try Executor(graph: g, options: ExecutionOptions(), planner: BufferPlan.lifetimes)
        let feeds = ["x": HostTensor(shape: [2, 4], floats: [-1, -2, 3, -4, -5, -6, -7, -8])]
        let f = try XCTUnwrap(try e.locateNonFinite(feeds: feeds, parameters: store))
        XCTAssertEqual(f.node, log.id)
        XCTAssertEqual(f.op, "log")
        XCTAssertEqual(f.location, SourceLocation(file: "m.swiftgraph", line: 4, column: 5))
        XCTAssertEqual(f.index, 2, "x[2] = 3 makes log(-3)")
        XCTAssertTrue(f.value.isNaN)
        XCTAssertEqual(f.nonFiniteCount, 1)
        XCTAssertEqual(f.operands.first?.min, -3)
        XCTAssertEqual(f.operands.first?.max, 8)
        XCTAssertTrue(f.nonFiniteInputs.isEmpty && f.nonFiniteParameters.isEmpty)
        XCTAssertFalse(e.checksNumerics, "the check is on for that run only")
        // Without the check the same run completes and only its output shows the NaN.
        let out = try e.run(feeds: feeds, parameters: store)
        XCTAssertTrue(try XCTUnwrap(out["y"]).floats[2].isNaN)
    }

    func testNonFiniteFeedsAndParametersAreNamed() throws {
        let (g, _) = try graph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 1)
        _ = store.update("w") { $0[1] = .infinity }
        let e = try Executor(graph: g, options: ExecutionOptions())
        let feeds = ["x": HostTensor(shape: [1, 4], floats: [-1, .nan, -3, -4])]
        let f = try XCTUnwrap(try e.locateNonFinite(feeds: feeds, parameters: store))
        XCTAssertEqual(f.op, "scale", "the NaN feed is passed on by the first op")
        XCTAssertEqual(f.nonFiniteInputs.map(\.name), ["x"])
        XCTAssertEqual(f.nonFiniteInputs.first?.firstNonFinite?.index, 1)
        XCTAssertEqual(f.nonFiniteParameters.map(\.name), ["w"])
    }

    func testAFiniteRunFindsNothing() throws {
        let (g, _) = try graph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 1)
        let e = try Executor(graph: g, options: ExecutionOptions())
        XCTAssertNil(try e.locateNonFinite(feeds: ["x": HostTensor(shape: [1, 4], floats: [-1, -2, -3, -4])], parameters: store))
    }
}
