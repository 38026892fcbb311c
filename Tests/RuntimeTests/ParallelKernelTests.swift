import Foundation
import Frontend
import GraphIR
import Passes
@testable import Runtime
import XCTest

/// Kernels split over the worker pool compute what the serial kernels compute (to float
/// tolerance where a reduction's order changes), repeat themselves bit for bit at a given
/// thread count, and a whole training step on 2 threads matches one on 1 thread. Shapes are
/// odd (batches 1, 3, 7; sizes that do not divide by the thread count) and large enough
/// that the split really happens (checked against the pool's own grain).
final class ParallelKernelTests: XCTestCase {
    let data = TestData(seed: 77)

    /// `op(inputs)` on an executor with `threads` threads.
    func run(_ op: OpDef, _ inputs: [HostTensor], _ attributes: Attributes = Attributes(), threads: Int) throws -> [Float] {
        let b = GraphBuilder(name: op.name)
        var feeds: [String: HostTensor] = [:]
        var values: [Value] = []
        for (i, t) in inputs.enumerated() {
            values.append(b.input("x\(i)", TensorType(t.dtype, Shape(known: t.shape))))
            feeds["x\(i)"] = t
        }
        b.outputs = [("y", try b.emit(op, values, attributes))]
        let g = b.finish()
        let ex = try Executor(graph: g, options: ExecutionOptions(training: true, seed: 3, threads: threads))
        guard let y = try ex.run(feeds: feeds, parameters: ParameterStore())["y"] else { throw RuntimeError("no output") }
        return y.floats
    }

    /// 1, 2 and 3 threads agree to `tol` (relative to the largest value), and 2 and 3
    /// threads repeat themselves exactly.
    func assertThreadCountsAgree(_ op: OpDef, _ inputs: [HostTensor], _ attributes: Attributes = Attributes(), tol: Float = 1e-5,
                                 _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let serial = try run(op, inputs, attributes, threads: 1)
        let scale = max(1, serial.map(abs).max() ?? 1)
        for threads in [2, 3] {
            let a = try run(op, inputs, attributes, threads: threads), b = try run(op, inputs, attributes, threads: threads)
            XCTAssertEqual(a.count, serial.count, what, file: file, line: line)
            let worst = zip(a, serial).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, tol * scale, "\(what), \(threads) threads vs 1", file: file, line: line)
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(what), \(threads) threads run twice", file: file, line: line)
        }
    }

    func testConvolutionForwardAndGradients() throws {
        for (n, stride, padding) in [(1, 1, 1), (3, 2, 0), (7, 1, 1), (7, 2, 1)] {
            let c = 3, h = 13, w = 11, o = 8, k = 3
            let oh = (h + 2 * padding - k) / stride + 1, ow = (w + 2 * padding - k) / stride + 1
            if n == 7 {
                // The images are really split.
                XCTAssertGreaterThanOrEqual(n / WorkerPool.grain(itemCost: o * c * k * k * oh * ow), 2)
            }
            let x = data.floats([n, c, h, w]), wt = data.floats([o, c, k, k]), bias = data.floats([o]), dy = data.floats([n, o, oh, ow])
            let attrs: Attributes = ["stride": .ints([stride, stride]), "padding": .ints([padding, padding])]
            let what = "n \(n), stride \(stride), padding \(padding)"
            try assertThreadCountsAgree(.conv2d, [x, wt, bias], attrs, "conv2d \(what)")
            var relu = attrs
            relu["activation"] = .string("relu")
            try assertThreadCountsAgree(.fusedConv2d, [x, wt, bias], relu, "fused_conv2d relu \(what)")
            try assertThreadCountsAgree(.conv2dGradInput, [dy, wt, x], attrs, "conv2d_grad_input \(what)")
            // Partial sums per chunk, added in chunk order: a different order than one thread's.
            try assertThreadCountsAgree(.conv2dGradWeight, [dy, x, wt], attrs, tol: 1e-5, "conv2d_grad_weight \(what)")
        }
    }

    func testPointwiseConvolutionGradWeight() throws {
        let x = data.floats([7, 40, 9, 10]), wt = data.floats([12, 40, 1, 1]), dy = data.floats([7, 12, 9, 10])
        try assertThreadCountsAgree(.conv2dGradWeight, [dy, x, wt], ["stride": .ints([1, 1]), "padding": .ints([0, 0])], "1x1 grad weight")
    }

    func testPoolingForwardAndGradient() throws {
        // 112 planes of 64x66: enough for three chunks.
        let (h, w) = (64, 66)
        let shape = [7, 16, h, w]
        XCTAssertGreaterThanOrEqual(shape[0] * shape[1] / (WorkerPool.memoryBoundMinimumWork / (h * w)), 3)
        let x = data.floats(shape)
        for (kernel, stride, padding) in [(2, 2, 0), (3, 2, 1)] {
            let attrs: Attributes = ["kernel": .ints([kernel, kernel]), "stride": .ints([stride, stride]), "padding": .ints([padding, padding])]
            let oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1
            let dy = data.floats([7, 16, oh, ow])
            try assertThreadCountsAgree(.maxpool2d, [x], attrs, tol: 0, "maxpool2d \(kernel)/\(stride)/\(padding)")
            try assertThreadCountsAgree(.maxpool2dGrad, [dy, x], attrs, tol: 0, "maxpool2d_grad \(kernel)/\(stride)/\(padding)")
        }
    }

    /// Products split by columns (M < N: the thin batch-8 products) and by rows, with each
    /// operand transposed or not, and the fused bias + relu epilogue.
    func testMatrixProductsSplitByRowsAndColumns() throws {
        for (m, k, n) in [(7, 300, 301), (301, 300, 9), (3, 1000, 250), (600, 8, 1152)] {
            XCTAssertGreaterThanOrEqual(m * n * k, 1 << 19, "large enough to split")
            for ta in [false, true] {
                for tb in [false, true] {
                    let a = data.floats(ta ? [k, m] : [m, k]), b = data.floats(tb ? [n, k] : [k, n])
                    let attrs: Attributes = ["transpose_a": .bool(ta), "transpose_b": .bool(tb)]
                    try assertThreadCountsAgree(.matmul, [a, b], attrs, tol: 1e-6, "matmul \(m)x\(k)x\(n) ta \(ta) tb \(tb)")
                }
            }
            let a = data.floats([m, k]), b = data.floats([n, k]), bias = data.floats([n])
            try assertThreadCountsAgree(.fusedMatmul, [a, b, bias], ["transpose_b": .bool(true), "activation": .string("relu")],
                                        tol: 1e-6, "fused_matmul \(m)x\(k)x\(n)")
        }
        // Batched products ([B, M, K] x [B, K, N]) split over the batch.
        try assertThreadCountsAgree(.matmul, [data.floats([5, 33, 70]), data.floats([5, 70, 41])], tol: 1e-6, "batched matmul")
    }

    func testReluGradient() throws {
        let shape = [7, 16, 60, 61]
        XCTAssertGreaterThan(shape.reduce(1, *), 3 * WorkerPool.memoryBoundMinimumWork)
        try assertThreadCountsAgree(.reluGrad, [data.floats(shape), data.floats(shape)], tol: 0, "relu_grad")
    }

    /// The Q2 CNN, fused as graphc compiles it, trained three SGD steps on batches of 7 with
    /// 1 and with 2 threads (same dropout masks: they are drawn on the calling thread).
    func testTrainingStepsOnTwoThreadsMatchOneThread() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = repository.appendingPathComponent("graphs/cnn.swiftgraph").path
        let lowered = try Frontend.lower(path: path, options: FrontendOptions(mode: .train))
        let training = try Pipelines.compileForTraining(lowered, .checked).training
        XCTAssertTrue(training.nodes.contains { $0.op.name == "fused_conv2d" }, "the fused graph is what runs")
        let batches = (0..<3).map { _ in ["image": data.floats([7, 1, 28, 28], in: 0...1), "label": data.ints([7], below: 10)] }

        func train(threads: Int) throws -> (losses: [Float], weights: [String: [Float]]) {
            let store = ParameterStore()
            try store.initialise(from: training, seed: 42)
            let trainer = try Trainer(graph: training, parameters: store, optimizer: SGD(learningRate: 0.05),
                                      options: ExecutionOptions(training: true, seed: 9, threads: threads))
            let losses = try batches.map { try trainer.step(feeds: $0) }
            var weights: [String: [Float]] = [:]
            for name in trainer.trainable { weights[name] = try XCTUnwrap(store.get(name)).floats }
            return (losses, weights)
        }
        let one = try train(threads: 1), two = try train(threads: 2), again = try train(threads: 2)
        for (a, b) in zip(one.losses, two.losses) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(a))) }
        XCTAssertEqual(two.losses.map(\.bitPattern), again.losses.map(\.bitPattern), "2 threads repeat themselves")
        XCTAssertFalse(one.weights.isEmpty)
        for (name, w1) in one.weights {
            let w2 = try XCTUnwrap(two.weights[name]), w3 = try XCTUnwrap(again.weights[name])
            let worst = zip(w1, w2).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, 1e-5, name)
            XCTAssertEqual(w2.map(\.bitPattern), w3.map(\.bitPattern), "\(name): 2 threads repeat themselves")
        }
    }
}
