import GraphIR
import Runtime
import XCTest

/// What `--profile` reads from an executor: per-node seconds and operation counts summed
/// over the timed runs, right across batch sizes.
final class ProfileCountersTests: XCTestCase {
    func testContractionOperationsAccumulatePerRun() throws {
        let b = GraphBuilder(name: "mm")
        let x = b.input("x", .f32(Shape([.symbol("B"), .known(6)])))
        let w = b.parameter("w", .f32([4, 6]), initializer: ["init": .string("zeros")])
        let y = try b.emit(.matmul, [x, w], ["transpose_b": .bool(true)])
        let z = try b.emit(.relu, [y])
        b.outputs = [("z", z)]
        let g = b.finish()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 1)
        let ex = try Executor(graph: g, options: ExecutionOptions())
        ex.measuresTime = true
        let data = TestData(seed: 2)
        for rows in [3, 5, 5] { try ex.execute(feeds: ["x": data.floats([rows, 6])], parameters: store) }
        XCTAssertEqual(ex.timedRuns, 3)
        XCTAssertEqual(ex.nodeFlops[y.id], Double(2 * (3 + 5 + 5) * 4 * 6), "2·M·N·K per run")
        XCTAssertEqual(ex.nodeFlops[z.id], Double((3 + 5 + 5) * 4), "one operation per element per run")
        XCTAssertTrue(ex.nodeSeconds[y.id] > 0)
        ex.resetTimes()
        XCTAssertEqual(ex.timedRuns, 0)
        XCTAssertEqual(ex.nodeFlops[y.id], 0)
    }

    func testConvolutionCosts() throws {
        let window: Attributes = ["stride": .ints([1, 1]), "padding": .ints([0, 0])]
        XCTAssertEqual(OpDef.conv2d.flops(CostQuery(inputs: [[2, 3, 7, 7], [8, 3, 3, 3]], output: [2, 8, 5, 5], attributes: window)),
                       Double(2 * 2 * 8 * 25 * 27))
        XCTAssertEqual(OpDef.conv2dGradWeight.flops(CostQuery(inputs: [[2, 8, 5, 5], [2, 3, 7, 7], [8, 3, 3, 3]], output: [8, 3, 3, 3], attributes: window)),
                       Double(2 * 2 * 8 * 25 * 27))
        XCTAssertEqual(OpDef.transpose.flops(CostQuery(inputs: [[4, 2]], output: [2, 4], attributes: ["perm": .ints([1, 0])])), 0)
    }
}
