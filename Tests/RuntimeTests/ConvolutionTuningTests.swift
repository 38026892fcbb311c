import Foundation
import GraphIR
@testable import Runtime
import XCTest

/// The per-layer choice of convolution algorithm (`conv2d-algorithm`): what `--tune off`
/// picks, that a measured choice is one of the layer's candidates and is remembered, and that
/// each candidate's timing graph is the layer. No assertion depends on which is faster.
final class ConvolutionTuningTests: XCTestCase {
    let layer = ConvolutionLayer(batch: 1, inChannels: 16, height: 12, width: 10, outChannels: 32, kernel: [3, 3],
                                 stride: [1, 1], padding: [1, 1], residual: true, relu: true)
    let candidates: [ConvolutionAlgorithm] = [.blocked, .winograd, .im2col]

    func testTuningOffTakesTheFixedDefault() throws {
        let tuner = Tuner(mode: .off)
        XCTAssertEqual(ConvolutionTuning.chooser(tuner: tuner, threads: 2)(layer, candidates), .blocked)
        let decision = try XCTUnwrap(tuner.decisions.first)
        XCTAssertEqual(decision.key.description, "conv2d-algorithm 1x16x12x10*32x16x3x3 s1x1p1x1-res-relu @2")
        XCTAssertEqual(decision.variant, "blocked")
        XCTAssertEqual(decision.source, .fixed)
    }

    func testAMeasuredChoiceIsACandidateAndIsRemembered() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-conv-tuning-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tuning.json")
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url))
        let chosen = ConvolutionTuning.chooser(tuner: tuner, threads: 2)(layer, candidates)
        XCTAssertTrue(candidates.contains(chosen))
        let decision = try XCTUnwrap(tuner.decisions.first { $0.key.point == "conv2d-algorithm" })
        XCTAssertEqual(decision.source, .measured)
        XCTAssertEqual(decision.seconds.map { $0.variant }, candidates.map(\.rawValue))
        XCTAssertTrue(decision.seconds.allSatisfy { $0.seconds.isFinite && $0.seconds > 0 }, "\(decision.seconds)")

        let next = Tuner(mode: .fast, cache: TuningCache(url: url))
        XCTAssertEqual(ConvolutionTuning.chooser(tuner: next, threads: 2)(layer, candidates), chosen)
        XCTAssertEqual(next.decisions.first { $0.key.point == "conv2d-algorithm" }?.source, .cached)
    }

    /// Each timing graph is the layer's convolution in its algorithm's ops and layouts.
    func testTimingGraphsAreTheLayer() throws {
        for algorithm in candidates {
            let (graph, feeds, store) = try ConvolutionTuning.graph(layer, algorithm)
            let ops = Set(graph.nodes.map(\.op.name))
            switch algorithm {
            case .blocked: XCTAssertTrue(ops.contains("blocked_conv2d"))
            case .winograd: XCTAssertTrue(ops.contains("winograd_conv2d"))
            case .im2col: XCTAssertTrue(ops.isSuperset(of: ["conv2d", "batch_norm", "add", "relu"]))
            }
            let y = graph[graph.outputs[0].value].type.shape.dims.map(\.value)
            XCTAssertEqual(y, [1, 2, 12, 10, 16], "\(algorithm)")
            let executor = try Executor(graph: graph, options: ExecutionOptions(training: false))
            XCTAssertNotNil(try executor.run(feeds: feeds, parameters: store)["y"])
        }
    }

    /// The layer is timed as it runs in a blocked network: its weights are parameters (copied
    /// into the executor once, not fed at every timed run), its input and residual arrive
    /// blocked, and im2col pays the reorders out of and back into the blocked layout. An
    /// image's few channels arrive as they are.
    func testTimingGraphsFeedOnlyActivationsAndIm2colPaysItsReorders() throws {
        var image = layer
        image.inChannels = 3
        image.residual = false
        for (l, blockedInput) in [(layer, true), (image, false)] {
            for algorithm in candidates where algorithm != .winograd || blockedInput {
                let (graph, feeds, store) = try ConvolutionTuning.graph(l, algorithm)
                XCTAssertEqual(Set(feeds.keys), l.residual ? ["x", "residual"] : ["x"], "\(algorithm)")
                let parameters = graph.parameters.compactMap { graph[$0].name }
                XCTAssertFalse(parameters.isEmpty, "\(algorithm)")
                for name in parameters { XCTAssertNotNil(store.get(name), "\(algorithm) \(name)") }
                XCTAssertEqual(feeds["x"]?.shape.count, blockedInput ? 5 : 4, "\(algorithm)")
                let reorders = graph.nodes.map(\.op.name).filter { $0.hasPrefix("reorder_") }
                if algorithm == .im2col {
                    let from = (blockedInput ? 1 : 0) + (l.residual ? 1 : 0)
                    XCTAssertEqual(reorders, Array(repeating: "reorder_from_blocked", count: from) + ["reorder_to_blocked"])
                } else {
                    XCTAssertEqual(reorders, [], "\(algorithm)")
                }
                // Run after run (the parameters copied in at the first), the same result.
                let executor = try Executor(graph: graph, options: ExecutionOptions(training: false))
                let first = try XCTUnwrap(executor.run(feeds: feeds, parameters: store)["y"]?.floats)
                XCTAssertEqual(try executor.run(feeds: feeds, parameters: store)["y"]?.floats, first)
            }
        }
    }

    /// A convolution whose `form` a pass decided (the im2col timing graph's, or a layer the
    /// chooser gave to im2col) runs that form: the runtime measures `conv2d-forward` only for
    /// one left undecided.
    func testADecidedFormIsNotMeasuredAgain() throws {
        let (graph, feeds, store) = try ConvolutionTuning.graph(layer, .im2col)
        let conv = try XCTUnwrap(graph.nodes.first { $0.op == .conv2d })
        XCTAssertEqual(conv.attributes[.convolutionForm], "im2col")
        func forwardChoices(_ g: Graph) throws -> [TuningDecision] {
            let tuner = Tuner(mode: .fast)
            let executor = try Executor(graph: g, options: ExecutionOptions(training: false, threads: 2, tuner: tuner))
            XCTAssertNotNil(try executor.run(feeds: feeds, parameters: store)["y"])
            return tuner.decisions.filter { $0.key.point == "conv2d-forward" }
        }
        XCTAssertEqual(try forwardChoices(graph).count, 0)
        let text = IRPrinter.print(graph)
        let withoutForm = text.replacingOccurrences(of: ", form=\"im2col\"", with: "").replacingOccurrences(of: "form=\"im2col\", ", with: "")
        XCTAssertNotEqual(withoutForm, text)
        let undecided = try IRParser.parse(withoutForm, file: "undecided.gir")
        XCTAssertEqual(try forwardChoices(undecided).map(\.source), [.measured])
    }

    /// A layer that a 2x2 max pooling alone reads is timed with it: the blocked convolution
    /// pooling in its store, Winograd and im2col with the pooling op after; keyed `-pool2`.
    func testAPooledLayerIsTimedWithItsPooling() throws {
        var pooled = layer
        pooled.residual = false
        pooled.pool = true
        XCTAssertEqual(ConvolutionTuning.key(pooled, threads: 2).description, "conv2d-algorithm 1x16x12x10*32x16x3x3 s1x1p1x1-relu-pool2 @2")
        for algorithm in candidates {
            let (graph, feeds, store) = try ConvolutionTuning.graph(pooled, algorithm)
            let ops = graph.nodes.map(\.op.name)
            switch algorithm {
            case .blocked: XCTAssertEqual(ops.filter { $0.hasPrefix("blocked_") }, ["blocked_conv2d_maxpool"])
            case .winograd: XCTAssertEqual(ops.filter { $0.hasSuffix("conv2d") || $0.contains("pool") }, ["winograd_conv2d", "blocked_maxpool2d"])
            case .im2col: XCTAssertEqual(ops.filter { $0 == "relu" || $0.contains("pool") }, ["relu", "maxpool2d"])
            }
            let y = graph[graph.outputs[0].value].type.shape.dims.map(\.value)
            XCTAssertEqual(y, [1, 2, 6, 5, 16], "\(algorithm)")
            let executor = try Executor(graph: graph, options: ExecutionOptions(training: false))
            XCTAssertNotNil(try executor.run(feeds: feeds, parameters: store)["y"])
        }
    }

    /// A layer whose operands exceed the memory budget (a batch from a flag, such as
    /// `--bench-eval-batch`, or one whose element count overflows) is refused with an error
    /// before anything is allocated, and its timing gives no candidate a finite time.
    func testALayerBeyondTheMemoryBudgetIsRefusedNotAllocated() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-conv-tuning-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for batch in [1 << 40, Int.max / 2] {
            var huge = layer
            huge.batch = batch
            for pool in [false, true] {
                huge.pool = pool
                huge.residual = !pool
                for algorithm in candidates {
                    XCTAssertThrowsError(try ConvolutionTuning.graph(huge, algorithm), "\(algorithm) \(huge)") { error in
                        XCTAssertTrue("\(error)".contains("memory"), "\(error)")
                    }
                }
            }
            let tuner = Tuner(mode: .fast, cache: TuningCache(url: dir.appendingPathComponent("tuning.json")))
            XCTAssertTrue(candidates.contains(ConvolutionTuning.choose(huge, candidates: candidates, tuner: tuner, threads: 2)))
            let decision = try XCTUnwrap(tuner.decisions.first { $0.key.point == "conv2d-algorithm" })
            XCTAssertFalse(decision.seconds.contains { $0.seconds.isFinite }, "\(decision.seconds)")
        }
    }
}
