import GraphIR
import Passes
@testable import Runtime
import XCTest

/// The trainer keeps weights and gradients in executor memory and updates them in place; the
/// store must still read as if every step had been written to it.
final class ResidentTrainingTests: XCTestCase {
    let B = Dim.symbol("B")

    /// logits = relu(x·w1ᵀ + b1)·w2ᵀ, NLL of log_softmax.
    func mlp() throws -> Graph {
        let b = GraphBuilder(name: "mlp")
        let x = b.input("x", .f32(Shape([B, .known(3)])))
        let y = b.input("y", .i64(Shape([B])))
        let w1 = b.parameter("w1", .f32([5, 3]), initializer: ["init": .string("uniform"), "bound": .float(0.7)])
        let b1 = b.parameter("b1", .f32([5]), initializer: ["init": .string("uniform"), "bound": .float(0.2)])
        let w2 = b.parameter("w2", .f32([4, 5]), initializer: ["init": .string("uniform"), "bound": .float(0.5)])
        let h = try b.emit(.relu, [try b.emit(.add, [try b.emit(.matmul, [x, w1], ["transpose_b": .bool(true)]), b1])])
        let logp = try b.emit(.logSoftmax, [try b.emit(.matmul, [h, w2], ["transpose_b": .bool(true)])], ["axis": .int(-1)])
        b.outputs = [("logp", logp)]
        b.loss = try b.emit(.nllLoss, [logp, y])
        return b.finish()
    }

    func feeds(_ data: TestData, rows: Int) -> [String: HostTensor] {
        ["x": data.floats([rows, 3]), "y": data.ints([rows], below: 4)]
    }

    /// Momentum SGD through the trainer against the same update applied by hand to copies
    /// of the gradients the executor returns, over batches of two sizes.
    func testInPlaceStepsMatchCopiedSteps() throws {
        let g = try mlp()
        let training = try Autodiff.differentiate(g)
        let store = ParameterStore(), reference = ParameterStore()
        try store.initialise(from: g, seed: 11)
        try reference.initialise(from: g, seed: 11)
        let trainer = try Trainer(graph: training, parameters: store, optimizer: SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01),
                                  gradClip: 0.05, options: ExecutionOptions(training: true))
        let plain = try Executor(graph: training, options: ExecutionOptions(training: true))
        let optimizer = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        let data = TestData(seed: 4)
        for step in 0..<6 {
            let f = feeds(data, rows: step % 2 == 0 ? 4 : 7)
            let loss = try trainer.step(feeds: f)
            let out = try plain.run(feeds: f, parameters: reference)
            XCTAssertEqual(loss, try XCTUnwrap(out["loss"]?.scalar), accuracy: 1e-6, "step \(step)")
            for (slot, name) in ["w1", "b1", "w2"].enumerated() {
                var grad = try XCTUnwrap(out["grad:" + name]).floats
                grad.withUnsafeMutableBufferPointer { gb in
                    clipGradientValues(gb, clip: 0.05)
                    reference.update(name) { w in w.withUnsafeMutableBufferPointer { optimizer.update(slot: slot, parameter: $0, gradient: UnsafeBufferPointer(gb)) } }
                }
            }
            optimizer.finishStep()
            for name in ["w1", "b1", "w2"] {
                let a = try XCTUnwrap(store.get(name)).floats, b = try XCTUnwrap(reference.get(name)).floats
                for (u, v) in zip(a, b) { XCTAssertEqual(u, v, accuracy: 1e-6, "\(name) after step \(step)") }
            }
        }
    }

    /// Another executor reading the store between steps sees the newest weights, and a
    /// weight set in the store between steps is the one the next step starts from.
    func testStoreReadersAndWritersStayInStep() throws {
        let g = try mlp()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 2)
        let trainer = try Trainer(graph: try Autodiff.differentiate(g), parameters: store, optimizer: SGD(learningRate: 0.5),
                                  options: ExecutionOptions(training: true))
        let eval = try Executor(graph: g, options: ExecutionOptions())
        let data = TestData(seed: 8)
        let f = feeds(data, rows: 5)
        let before = try XCTUnwrap(eval.run(feeds: f, parameters: store)["logp"]).floats
        try trainer.step(feeds: f)
        let after = try XCTUnwrap(eval.run(feeds: f, parameters: store)["logp"]).floats
        XCTAssertNotEqual(before, after, "the evaluator sees the trained weights")
        let fresh = ParameterStore()
        try fresh.initialise(from: g, seed: 2)
        let snapshot = try XCTUnwrap(store.get("w1")).floats
        XCTAssertNotEqual(snapshot, try XCTUnwrap(fresh.get("w1")).floats)

        // Reset w1 in the store: the next step must start from the reset value, so w1
        // becomes exactly -lr * its gradient at the store's current weights.
        store.set("w1", HostTensor(zeros: [5, 3]))
        let reference = ParameterStore()
        for name in ["w1", "b1", "w2"] { reference.set(name, try XCTUnwrap(store.get(name))) }
        let grads = try Executor(graph: try Autodiff.differentiate(g), options: ExecutionOptions(training: true)).run(feeds: f, parameters: reference)
        try trainer.step(feeds: f)
        let expected = try XCTUnwrap(grads["grad:w1"]).floats.map { -0.5 * $0 }
        XCTAssertTrue(expected.contains { $0 != 0 }, "the test needs a gradient that moves w1")
        for (u, v) in zip(try XCTUnwrap(store.get("w1")).floats, expected) { XCTAssertEqual(u, v, accuracy: 1e-6) }
    }

    func testMemorySummaryCountsParametersAndOptimiserState() throws {
        let g = try mlp()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 2)
        let trainer = try Trainer(graph: try Autodiff.differentiate(g), parameters: store, optimizer: SGD(learningRate: 0.1, momentum: 0.9),
                                  options: ExecutionOptions(training: true))
        XCTAssertNil(trainer.memorySummary, "nothing planned before the first step")
        try trainer.step(feeds: feeds(TestData(seed: 1), rows: 3))
        let s = try XCTUnwrap(trainer.memorySummary)
        XCTAssertGreaterThanOrEqual(s.parameters, (15 + 5 + 20) * 4)
        XCTAssertEqual(s.optimizerState, (15 + 5 + 20) * 4, "one momentum buffer per weight")
        XCTAssertGreaterThanOrEqual(s.outputs, (15 + 5 + 20 + 3 * 4) * 4, "gradients and log-probabilities")
        XCTAssertLessThanOrEqual(s.arena, s.unplannedBytes)
    }
}
