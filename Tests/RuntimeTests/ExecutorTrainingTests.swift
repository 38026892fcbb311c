import GraphIR
import Passes
@testable import Runtime
import XCTest

/// The runtime driving a differentiated graph: plain SGD on the `grad:` outputs must fit a
/// small separable problem, which needs every forward and backward kernel of an MLP with
/// dropout and NLL loss to be right together.
final class ExecutorTrainingTests: XCTestCase {
    func testSGDFitsASeparableProblem() throws {
        let B = Dim.symbol("B")
        let b = GraphBuilder(name: "mlp")
        let x = b.input("x", .f32(Shape([B, .known(2)])))
        let y = b.input("y", .i64(Shape([B])))
        let w1 = b.parameter("w1", .f32([16, 2]), initializer: ["init": .string("uniform"), "bound": .float(0.7)])
        let b1 = b.parameter("b1", .f32([16]), initializer: ["init": .string("zeros")])
        let w2 = b.parameter("w2", .f32([3, 16]), initializer: ["init": .string("uniform"), "bound": .float(0.25)])
        var h = try b.emit(.add, [try b.emit(.matmul, [x, w1], ["transpose_b": .bool(true)]), b1])
        h = try b.emit(.relu, [h])
        h = try b.emit(.mul, [h, try b.emit(.dropoutMask, [h], ["p": .float(0.1)])])
        let logp = try b.emit(.logSoftmax, [try b.emit(.matmul, [h, w2], ["transpose_b": .bool(true)])], ["axis": .int(-1)])
        b.outputs = [("pred", try b.emit(.argmax, [logp], ["axis": .int(-1)]))]
        b.loss = try b.emit(.nllLoss, [logp, y])
        let g = b.finish()

        // Three clusters around (2,0), (-1,1.7), (-1,-1.7).
        let data = TestData(seed: 5)
        let n = 60
        let labels = (0..<n).map { Int64($0 % 3) }
        let centres: [[Float]] = [[2, 0], [-1, 1.7], [-1, -1.7]]
        let noise = data.floats([n, 2], in: -0.5...0.5).floats
        let points = (0..<n).flatMap { i in (0..<2).map { centres[Int(labels[i])][$0] + noise[i * 2 + $0] } }
        let feeds = ["x": HostTensor(shape: [n, 2], floats: points), "y": HostTensor(shape: [n], ints: labels)]

        let store = ParameterStore()
        try store.initialise(from: g, seed: 9)
        let train = try Executor(graph: try Autodiff.differentiate(g), options: ExecutionOptions(training: true, seed: 3))
        var losses: [Float] = []
        for _ in 0..<150 {
            let out = try train.run(feeds: feeds, parameters: store)
            losses.append(try XCTUnwrap(out["loss"]?.scalar))
            for name in ["w1", "b1", "w2"] {
                let grad = try XCTUnwrap(out[GradientOutput.name(forParameter: name)]).floats
                store.update(name) { w in for i in w.indices { w[i] -= 0.2 * grad[i] } }
            }
        }
        XCTAssertLessThan(losses.suffix(10).reduce(0, +) / 10, losses[0] / 5, "loss \(losses[0]) -> \(losses.suffix(3))")

        let eval = try Executor(graph: g, options: ExecutionOptions(training: false))
        let pred = try XCTUnwrap(try eval.run(feeds: feeds, parameters: store)["pred"]).ints
        XCTAssertEqual(zip(pred, labels).filter { $0 == $1 }.count, n, "all training points classified")
    }
}
