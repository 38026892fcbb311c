import GraphIR
import Runtime
import XCTest

/// What `--profile` reads from an executor: per-node seconds and operation counts summed
/// over the timed runs, right across batch sizes.
final class ProfileCountersTests: XCTestCase {
    func testContractionOperationsAccumulatePerRun() throws {
        let g = Graph(name: "mm")
        let b = GraphBuilder(graph: g)
        let x = b.input("x", .f32(Shape([.symbol("B"), .known(6)])))
        let w = b.parameter("w", .f32([4, 6]), initializer: ["init": .string("zeros")])
        let y = try b.emit(.matmul, [x, w], ["transpose_b": .bool(true)])
        let z = try b.emit(.relu, [y])
        g.outputs = [("z", z)]
        let store = ParameterStore()
        try store.initialise(from: g, seed: 1)
        let ex = try Executor(graph: g, options: ExecutionOptions())
        ex.measuresTime = true
        let data = TestData(seed: 2)
        for rows in [3, 5, 5] { try ex.execute(feeds: ["x": data.floats([rows, 6])], parameters: store) }
        XCTAssertEqual(ex.timedRuns, 3)
        XCTAssertEqual(ex.nodeFlops[y.id], Double(2 * (3 + 5 + 5) * 4 * 6), "2·M·N·K per run")
        XCTAssertEqual(ex.nodeFlops[z.id], 0, "elementwise ops are not counted")
        XCTAssertTrue(ex.nodeSeconds[y.id] > 0)
        ex.resetTimes()
        XCTAssertEqual(ex.timedRuns, 0)
        XCTAssertEqual(ex.nodeFlops[y.id], 0)
    }

    func testConvolutionCosts() throws {
        let conv = Node(op: .conv2d, inputs: [Value(0), Value(1)], type: .f32([2, 8, 5, 5]))
        XCTAssertEqual(OpCost.flops(conv, inputShapes: [[2, 3, 7, 7], [8, 3, 3, 3]], outputShape: [2, 8, 5, 5]), Double(2 * 2 * 8 * 25 * 27))
        let gradW = Node(op: .conv2dGradWeight, inputs: [Value(0), Value(1), Value(2)], type: .f32([8, 3, 3, 3]))
        XCTAssertEqual(OpCost.flops(gradW, inputShapes: [[2, 8, 5, 5], [2, 3, 7, 7], [8, 3, 3, 3]], outputShape: [8, 3, 3, 3]),
                       Double(2 * 2 * 8 * 25 * 27))
        XCTAssertNil(OpCost.flops(Node(op: .relu, inputs: [Value(0)], type: .f32([4])), inputShapes: [[4]], outputShape: [4]))
    }
}
