import Foundation
import Frontend
import GraphIR
import Passes
@testable import Runtime
import XCTest

/// Fused and unfused graphs must compute the same outputs and gradients: on the real models
/// (the Q2 CNN and both captioning decoders) and on random small graphs.
final class FusionEquivalenceTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `graph` and its fused form with the same weights, feeds and dropout seed and
    /// compares every output. Returns how many fused nodes the pass made.
    @discardableResult
    func assertFusionPreserves(_ graph: Graph, size: Int = 2, tol: Float = 2e-5, passes: [String] = ["fusion", "dce", "verify"],
                               _ what: String, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        let fused = try Pipeline(passes).run(graph, .checked)
        let store = ParameterStore()
        try store.initialise(from: graph, seed: 13)
        let feeds = randomFeeds(graph, size: size, seed: 17)
        let plain = try Executor(graph: graph, options: ExecutionOptions(training: true, seed: 5)).run(feeds: feeds, parameters: store)
        let fast = try Executor(graph: fused, options: ExecutionOptions(training: true, seed: 5)).run(feeds: feeds, parameters: store)
        XCTAssertEqual(Set(plain.keys), Set(fast.keys), what, file: file, line: line)
        for (name, a) in plain {
            guard let b = fast[name] else { continue }
            XCTAssertEqual(a.shape, b.shape, "\(what): \(name)", file: file, line: line)
            let x = a.floats, y = b.floats
            let scale = max(1, x.map(abs).max() ?? 1)
            let worst = zip(x, y).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, tol * scale, "\(what): output \(name) differs by \(worst)", file: file, line: line)
        }
        return fused.nodes.filter { $0.op.name.hasPrefix("fused_") || $0.op == .logSoftmaxNllGrad }.count
    }

    func compiled(_ file: String) throws -> (forward: Graph, training: Graph) {
        let path = FusionEquivalenceTests.repository.appendingPathComponent("graphs/\(file)").path
        // Unfused: the references the speed-up passes are checked against.
        return try Pipelines.compileForTraining(try Frontend.lower(path: path, options: FrontendOptions(mode: .train)), .checked(fusion: false))
    }

    func testQ2NetworkForwardAndGradients() throws {
        let (forward, training) = try compiled("cnn.swiftgraph")
        XCTAssertEqual(try assertFusionPreserves(forward, size: 3, "cnn forward"), 5, "two conv+relu, three linear epilogues")
        // Two conv and three linear epilogues, the loss gradient, dropout mask * relu_grad.
        XCTAssertGreaterThanOrEqual(try assertFusionPreserves(training, size: 3, "cnn training"), 7)
    }

    /// The CNN's two bias sums read the pooled gradients (`pool-gradient-sums` after fusion),
    /// and every output, the gradients among them, is what the unfused graph computes.
    func testQ2NetworkBiasSumsFromPooledGradients() throws {
        let (_, training) = try compiled("cnn.swiftgraph")
        let passes = ["fusion", "pool-gradient-sums", "dce", "verify"]
        try assertFusionPreserves(training, size: 3, passes: passes, "cnn training, bias sums from pooled gradients")
        let rewritten = try Pipeline(passes).run(training, .checked)
        XCTAssertEqual(rewritten.nodes.filter { $0.op == .reluGradSum }.count, 2)
        XCTAssertFalse(rewritten.nodes.contains { $0.op == .sum && rewritten[$0.inputs[0]].op == .maxpool2dGrad })
    }

    /// The CNN's evaluation graph (no dropout, the convolutions blocked with ReLU and pooling
    /// after them, by the blocked kernel and by Winograd) scores as the unfused forward graph
    /// does outside training, at every thread count.
    func testQ2NetworkEvaluationGraphScoresAsTheUnfusedOne() throws {
        let path = FusionEquivalenceTests.repository.appendingPathComponent("graphs/cnn.swiftgraph").path
        let lowered = try Frontend.lower(path: path, options: FrontendOptions(mode: .train))
        let plain = try Pipelines.compileForTraining(lowered, .checked(fusion: false)).forward
        let store = ParameterStore()
        try store.initialise(from: plain, seed: 13)
        let feeds = randomFeeds(plain, size: 5, seed: 17)
        let reference = try Executor(graph: plain, options: ExecutionOptions(training: false)).run(feeds: feeds, parameters: store)
        for algorithm in [ConvolutionAlgorithm.blocked, .winograd] {
            let context = PassContext.checked
            context.options.convolutionChooser = algorithm.chooser
            let fast = try Pipelines.compileForTraining(lowered, context).forward
            XCTAssertFalse(fast.nodes.contains { $0.op == .dropoutMask || $0.op == .conv2d || $0.op == .fusedConv2d }, "\(algorithm)")
            // conv1 (one input channel) is blocked either way, its pooling in its store;
            // conv2 by Winograd keeps its pooling apart.
            XCTAssertEqual(fast.nodes.filter { $0.op == .blockedConv2dMaxpool }.count, algorithm == .blocked ? 2 : 1, "\(algorithm)")
            XCTAssertEqual(fast.nodes.filter { $0.op == .winogradConv2d }.count, algorithm == .winograd ? 1 : 0, "\(algorithm)")
            for threads in [1, 2, 3] {
                let out = try Executor(graph: fast, options: ExecutionOptions(training: false, threads: threads)).run(feeds: feeds, parameters: store)
                XCTAssertEqual(Set(out.keys), Set(reference.keys))
                for (name, a) in reference {
                    let b = try XCTUnwrap(out[name])
                    XCTAssertEqual(a.shape, b.shape, name)
                    let worst = zip(a.floats, b.floats).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(worst, 2e-5 * max(1, a.floats.map(abs).max() ?? 1), "\(algorithm), \(threads) threads: \(name)")
                }
            }
        }
    }

    func testCaptioningDecodersForwardAndGradients() throws {
        for file in ["caption_lstm.swiftgraph", "caption_attention.swiftgraph"] {
            let (_, training) = try compiled(file)
            XCTAssertGreaterThan(try assertFusionPreserves(training, size: 2, tol: 1e-4, file), 20, file)
            // Each step's cell is one lstm_cell kernel: no sigmoid or tanh op is left.
            let fused = try Pipeline(["fusion", "dce", "verify"]).run(training, .checked)
            XCTAssertEqual(fused.nodes.filter { $0.op == .lstmCell }.count, 21, file)
            XCTAssertFalse(fused.nodes.contains { $0.op == .sigmoid || $0.op == .tanh }, file)
        }
    }

    /// Hoisting the teacher-forced input projection out of the LSTM decoder's steps: one
    /// product instead of 21, same outputs and gradients, with fusion after it.
    func testHoistedDecoderProjection() throws {
        let (forward, training) = try compiled("caption_lstm.swiftgraph")
        for g in [forward, training] {
            let hoisted = try Pipeline(["hoist", "dce", "verify"]).run(g, .checked)
            // Forward projections: products of an embedding with the input weight (the
            // backward's products with it take gradients).
            func projections(_ h: Graph) -> Int {
                let w = h.parameter(named: "decode_step.weight_ih")
                return h.nodes.filter { $0.op == .matmul && $0.inputs[1] == w && h[$0.inputs[0]].op == .embedding }.count
            }
            XCTAssertEqual(projections(g), 21)
            XCTAssertEqual(projections(hoisted), 1)
            try assertFusionPreserves(g, size: 2, tol: 1e-4, passes: ["hoist", "fusion", "dce", "verify"], "hoisted \(g.loss == nil ? "" : "loss ")graph")
        }
    }

    /// The per-step sums of the shared weights' gradients as one op over stacked operands
    /// (stack-sums), alone and with the rest of the optimisations: same outputs and gradients
    /// on both decoders, and no weight-sized product per step left.
    func testStackedGradientSumsOnDecoders() throws {
        for file in ["caption_lstm.swiftgraph", "caption_attention.swiftgraph"] {
            let (_, training) = try compiled(file)
            let stacked = try Pipeline(["stack-sums", "dce", "verify"]).run(training, .checked)
            let w = try XCTUnwrap(stacked.parameter(named: "decode_step.weight_hh"))
            XCTAssertFalse(stacked.nodes.contains { $0.op == .matmul && $0.type == stacked.type(of: w) }, "\(file): a per-step product of weight_hh's size is left")
            XCTAssertGreaterThanOrEqual(stacked.nodes.filter { $0.op == .contractRows }.count, 3, file)
            let weightType = stacked.type(of: w)
            XCTAssertTrue(training.nodes.contains { $0.op == .add && $0.type == weightType }, file)
            XCTAssertFalse(stacked.nodes.contains { $0.op == .add && $0.type == weightType }, "\(file): weight_hh's gradient is still summed step by step")
            try assertFusionPreserves(training, size: 2, tol: 1e-4, passes: ["stack-sums", "dce", "verify"], "\(file) stacked sums")
            try assertFusionPreserves(training, size: 3, tol: 1e-4, passes: ["stack-sums", "hoist", "fusion", "dce", "verify"], "\(file) all optimisations")
        }
    }

    /// Random unrolled recurrences sharing their weights across 2-6 steps (some steps' terms
    /// also read elsewhere, some weights used transposed the other way): stacking the
    /// gradient sums keeps every output and gradient.
    func testStackedGradientSumsOnRandomRecurrences() throws {
        var stackedSums = 0
        for seed in 0..<10 {
            let random = RandomSource(seed: UInt64(100 + seed))
            let b = GraphBuilder(name: "rnn\(seed)")
            let B = Dim.symbol("B")
            let width = 3 + random.nextInt(below: 3), steps = 2 + random.nextInt(below: 5)
            func uniform(_ name: String, _ shape: [Int]) -> Value {
                b.parameter(name, .f32(Shape(known: shape)), initializer: ["init": .string("uniform"), "bound": .float(0.7)])
            }
            let wx = uniform("wx", [width, 2]), wh = uniform("wh", [width, width]), bias = uniform("bias", [width])
            let table = uniform("table", [4, 2]), wt = uniform("wt", [width, width])
            let ids = b.input("ids", .i64(Shape([B, .known(steps)])))
            let y = b.input("y", .i64(Shape([B])))
            var h = try b.emit(.tanh, [b.input("h0", .f32(Shape([B, .known(width)])))])
            var outs: [Value] = []
            for t in 0..<steps {
                let x = try b.emit(.embedding, [try b.emit(.select, [ids], ["axis": .int(1), "index": .int(t)]), table])
                var pre = try b.emit(.add, [try b.emit(.matmul, [x, wx], ["transpose_b": .bool(true)]), bias])
                // Some steps use wh untransposed, some multiply by a second weight too.
                let flip = random.nextInt(below: 3) == 0
                pre = try b.emit(.add, [pre, try b.emit(.matmul, [h, wh], ["transpose_b": .bool(!flip)])])
                if random.nextInt(below: 2) == 0 { pre = try b.emit(.add, [pre, try b.emit(.matmul, [h, wt])]) }
                h = try b.emit(.tanh, [pre])
                outs.append(h)
            }
            let last = try b.emit(.add, [h, try b.emit(.scale, [outs[0]], ["factor": .float(0.5)])])
            let logp = try b.emit(.logSoftmax, [last], ["axis": .int(-1)])
            b.outputs = [("logp", logp)]
            b.loss = try b.emit(.nllLoss, [logp, y])
            let g = b.finish()
            let training = try Pipeline(["autodiff", "cse", "dce", "verify"]).run(g, .checked)
            stackedSums += try Pipeline(["stack-sums", "dce"]).run(training, .checked).nodes.filter { $0.op == .contractRows }.count
            try assertFusionPreserves(training, size: 3, tol: 1e-5, passes: ["stack-sums", "dce", "verify"], "recurrence \(seed)")
            try assertFusionPreserves(training, size: 3, tol: 1e-5, passes: ["stack-sums", "hoist", "fusion", "dce", "verify"], "recurrence \(seed) all")
        }
        XCTAssertGreaterThan(stackedSums, 10, "the recurrences exercise stack-sums")
    }

    /// The decoders' per-step vocabulary projections as one product (stack-products, before
    /// autodiff, as graphc compiles them): one forward product instead of 21, same outputs
    /// and gradients, with the rest of the optimisations after autodiff too.
    func testStackedProjectionsOnDecoders() throws {
        for file in ["caption_lstm.swiftgraph", "caption_attention.swiftgraph"] {
            let (forward, training) = try compiled(file)
            let stacked = try Pipeline(["stack-products", "dce", "verify"]).run(forward, .checked)
            func projections(_ g: Graph) -> Int {
                let w = g.parameter(named: "fc.weight")
                return g.nodes.filter { $0.op == .matmul && $0.inputs[1] == w }.count
            }
            XCTAssertEqual(projections(forward), 21, file)
            XCTAssertEqual(projections(stacked), 1, file)
            let stackedTraining = try Pipeline(Pipelines.differentiation).run(stacked, .checked)
            let optimised = try Pipeline(Pipelines.optimisations).run(stackedTraining, .checked)
            let store = ParameterStore()
            try store.initialise(from: forward, seed: 8)
            let feeds = randomFeeds(forward, size: 3, seed: 9)
            let a = try Executor(graph: training, options: ExecutionOptions(training: true, seed: 4)).run(feeds: feeds, parameters: store)
            for g in [stackedTraining, optimised] {
                let b = try Executor(graph: g, options: ExecutionOptions(training: true, seed: 4)).run(feeds: feeds, parameters: store)
                XCTAssertEqual(Set(a.keys), Set(b.keys))
                for (name, t) in a {
                    let u = try XCTUnwrap(b[name]).floats
                    let scale = max(1, t.floats.map(abs).max() ?? 1)
                    XCTAssertLessThanOrEqual(zip(t.floats, u).map { abs($0 - $1) }.max() ?? 0, 1e-4 * scale, "\(file): \(name)")
                }
            }
        }
    }

    /// conv -> batch_norm -> relu and conv(bias) -> batch_norm, with statistics away from
    /// their initial values, fold into convolutions computing the same thing.
    func testBatchNormFoldsIntoConvolution() throws {
        let b = GraphBuilder(name: "bn")
        let x = b.input("x", .f32(Shape([.symbol("B"), .known(3), .known(6), .known(6)])))
        func uniform(_ name: String, _ shape: Shape, _ lo: Double, _ hi: Double) -> Value {
            b.parameter(name, .f32(shape), initializer: ["init": .string("uniform"), "low": .float(lo), "high": .float(hi)])
        }
        func bn(_ y: Value, _ name: String, _ c: Int) throws -> Value {
            try b.emit(.batchNorm, [y, uniform(name + ".weight", [c], 0.5, 1.5), uniform(name + ".bias", [c], -0.5, 0.5),
                                    uniform(name + ".running_mean", [c], -1, 1), uniform(name + ".running_var", [c], 0.2, 3)], ["eps": .float(1e-3)])
        }
        let window: Attributes = ["stride": .ints([1, 1]), "padding": .ints([1, 1])]
        var y = try b.emit(.conv2d, [x, uniform("c1.weight", [4, 3, 3, 3], -0.5, 0.5)], window)
        y = try b.emit(.relu, [try bn(y, "bn1", 4)])
        y = try b.emit(.conv2d, [y, uniform("c2.weight", [5, 4, 3, 3], -0.5, 0.5), uniform("c2.bias", [5], -0.5, 0.5)], window)
        b.outputs = [("y", try bn(y, "bn2", 5))]
        let g = b.finish()
        XCTAssertEqual(try assertFusionPreserves(g, size: 2, tol: 1e-5, "conv + batch norm"), 2)
        let fused = try Pipeline(["fusion", "dce"]).run(g, .checked)
        XCTAssertFalse(fused.nodes.contains { $0.op == .batchNorm || $0.op == .conv2d || $0.op == .relu })
    }

    /// The attention decoder feeds concat(embedding, context) to its cell: the weight splits
    /// by columns and the embedding half of all steps becomes one product.
    func testHoistedAttentionDecoderProjection() throws {
        let (_, training) = try compiled("caption_attention.swiftgraph")
        let hoisted = try Pipeline(["hoist", "dce", "verify"]).run(training, .checked)
        let w = try XCTUnwrap(hoisted.parameter(named: "decode_step.weight_ih"))
        let stepsProducts = hoisted.nodes.filter { $0.op == .matmul && $0.type.rank == 3 && $0.type.shape.dims[1] == .known(21) }
        XCTAssertEqual(stepsProducts.count, 1, "one product over the 21 steps")
        XCTAssertFalse(hoisted.nodes.contains { $0.op == .matmul && $0.inputs[1] == w && hoisted[$0.inputs[0]].op == .concat },
                       "no step multiplies its whole concatenated input any more")
        try assertFusionPreserves(training, size: 2, tol: 1e-4, passes: ["hoist", "fusion", "dce", "verify"], "hoisted attention decoder")
    }

    /// Attention contexts as matrix products (before autodiff): same outputs, same gradients,
    /// and no broadcast products left in the forward pass.
    func testContractedAttentionContexts() throws {
        let (forward, training) = try compiled("caption_attention.swiftgraph")
        let contracted = try Pipeline(["contract", "dce", "verify"]).run(forward, .checked)
        XCTAssertEqual(contracted.nodes.filter { $0.op == .matmul && $0.attributes.bool("transpose_a") == true }.count, 21)
        XCTAssertFalse(contracted.nodes.contains { $0.op == .mul && $0.type.rank == 3 }, "no [B, 256, 512] products")
        let contractedTraining = try Pipeline(Pipelines.differentiation).run(contracted, .checked)
        let store = ParameterStore()
        try store.initialise(from: forward, seed: 8)
        let feeds = randomFeeds(forward, size: 2, seed: 9)
        let a = try Executor(graph: training, options: ExecutionOptions(training: true, seed: 4)).run(feeds: feeds, parameters: store)
        let b = try Executor(graph: contractedTraining, options: ExecutionOptions(training: true, seed: 4)).run(feeds: feeds, parameters: store)
        XCTAssertEqual(Set(a.keys), Set(b.keys))
        for (name, t) in a {
            let u = try XCTUnwrap(b[name]).floats
            let scale = max(1, t.floats.map(abs).max() ?? 1)
            XCTAssertLessThanOrEqual(zip(t.floats, u).map { abs($0 - $1) }.max() ?? 0, 1e-4 * scale, name)
        }
    }

    /// Random MLP-like graphs: linear layers with and without relu, elementwise chains with
    /// scalars, products of branches, then log-softmax + NLL.
    func testRandomGraphs() throws {
        var made = 0
        for seed in 0..<12 {
            let random = RandomSource(seed: UInt64(seed))
            let b = GraphBuilder(name: "random\(seed)")
            let B = Dim.symbol("B")
            var width = 4
            var x = b.input("x", .f32(Shape([B, .known(width)])))
            let y = b.input("y", .i64(Shape([B])))
            var values = [x]
            for layer in 0..<(2 + random.nextInt(below: 3)) {
                switch random.nextInt(below: 4) {
                case 0, 1:
                    let out = 3 + random.nextInt(below: 4)
                    let w = b.parameter("w\(layer)", .f32([out, width]), initializer: ["init": .string("uniform"), "bound": .float(0.8)])
                    let bias = b.parameter("b\(layer)", .f32([out]), initializer: ["init": .string("uniform"), "bound": .float(0.3)])
                    let mm = try b.emit(.matmul, [x, w], ["transpose_b": .bool(true)])
                    x = try b.emit(.add, random.nextInt(below: 2) == 0 ? [mm, bias] : [bias, mm])
                    if random.nextInt(below: 3) > 0 { x = try b.emit(.relu, [x]) }
                    width = out
                    values = [x]
                case 2:
                    let unary: [OpDef] = [.sigmoid, .tanh, .neg, .relu]
                    x = try b.emit(unary[random.nextInt(below: unary.count)], [x])
                    x = try b.emit(.scale, [x], ["factor": .float(Double(random.nextFloat()) + 0.5)])
                    x = try b.emit(.mul, [x, try b.scalar(0.75)])
                    values.append(x)
                default:
                    let other = values[random.nextInt(below: values.count)]
                    let binary: [OpDef] = [.add, .sub, .mul]
                    x = try b.emit(binary[random.nextInt(below: binary.count)], [x, try b.emit(.tanh, [other])])
                    values.append(x)
                }
            }
            let w = b.parameter("out", .f32([3, width]), initializer: ["init": .string("uniform"), "bound": .float(0.8)])
            let logp = try b.emit(.logSoftmax, [try b.emit(.matmul, [x, w], ["transpose_b": .bool(true)])], ["axis": .int(-1)])
            b.outputs = [("logp", logp)]
            b.loss = try b.emit(.nllLoss, [logp, y])
            let g = b.finish()
            made += try assertFusionPreserves(g, size: 5, "random graph \(seed) forward")
            made += try assertFusionPreserves(try Pipeline(["autodiff", "cse", "dce"]).run(g, .checked), size: 5, "random graph \(seed) training")
        }
        XCTAssertGreaterThan(made, 24, "the random graphs exercise the fusions")
    }

    /// Lifetime-planned memory (regions shared, elementwise ops in place) computes what one
    /// buffer per value computes, on the fused training graphs.
    func testLifetimePlanningGivesTheSameResults() throws {
        for file in ["cnn.swiftgraph", "caption_lstm.swiftgraph"] {
            let training = try Pipeline(["fusion", "dce"]).run(try compiled(file).training, .checked)
            let store = ParameterStore()
            try store.initialise(from: training, seed: 21)
            let feeds = randomFeeds(training, size: 3, seed: 22)
            let separate = try Executor(graph: training, options: ExecutionOptions(training: true, seed: 2)).run(feeds: feeds, parameters: store)
            let shared = try Executor(graph: training, options: ExecutionOptions(training: true, seed: 2), planner: BufferPlan.lifetimes)
            let out = try shared.run(feeds: feeds, parameters: store)
            XCTAssertLessThan(try XCTUnwrap(shared.memorySummary).arena, try XCTUnwrap(shared.memorySummary).unplannedBytes, file)
            for (name, t) in separate { XCTAssertEqual(out[name], t, "\(file): \(name)") }
        }
    }

    /// Fused contractions keep the unfused gradients, so fusion may run before autodiff too.
    func testFusedContractionsDifferentiateLikeTheOriginals() throws {
        let (forward, _) = try compiled("cnn.swiftgraph")
        let early = try Pipeline(["fusion", "autodiff", "dce", "verify"]).run(forward, .checked)
        let late = try Pipeline(["autodiff", "dce", "verify"]).run(forward, .checked)
        XCTAssertTrue(early.nodes.contains { $0.op == .fusedConv2d })
        let store = ParameterStore()
        try store.initialise(from: forward, seed: 3)
        let feeds = randomFeeds(forward, size: 2, seed: 4)
        let a = try Executor(graph: early, options: ExecutionOptions(training: true, seed: 1)).run(feeds: feeds, parameters: store)
        let b = try Executor(graph: late, options: ExecutionOptions(training: true, seed: 1)).run(feeds: feeds, parameters: store)
        for (name, t) in b where name.hasPrefix("grad:") {
            let u = try XCTUnwrap(a[name]).floats
            for (p, q) in zip(t.floats, u) { XCTAssertEqual(p, q, accuracy: 1e-5 * max(1, abs(p)), name) }
        }
    }
}
