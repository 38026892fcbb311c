import Foundation
import Frontend
import GraphIR
import Passes
import Runtime
@testable import Training
import XCTest

/// The library's tuned inference compilation (`TunedCompilation.inference`, what the command
/// line and onnx-bench call): `.off` is the fixed default and measures nothing; with tuning,
/// the close calls are confirmed on the whole graph, remembered, and read back from the cache.
/// No assertion depends on which candidate is faster.
final class TunedCompilationTests: XCTestCase {
    /// graphs/resnet18.swiftgraph up to layer2 (seven kinds of convolution layer, 3x3 and 1x1,
    /// strides 1 and 2, with and without the residual) at `size`x`size`, lowered in infer mode.
    func resnet(size: Int) throws -> Graph {
        var source = try String(contentsOf: Q3Support.repository.appendingPathComponent("graphs/resnet18.swiftgraph"), encoding: .utf8)
        for (line, small) in [("input(\"image\", [batch, 3, 500, 500])", "input(\"image\", [batch, 3, \(size), \(size)])"),
                              ("output(\"features\", layer4(layer3(layer2(layer1(stem)))))", "output(\"features\", layer2(layer1(stem)))")] {
            XCTAssertTrue(source.contains(line), "graphs/resnet18.swiftgraph no longer has \(line)")
            source = source.replacingOccurrences(of: line, with: small)
        }
        return try Frontend.lower(source: source, file: "resnet18.swiftgraph", options: FrontendOptions(mode: .infer))
    }

    func features(_ graph: Graph) throws -> [Float] {
        let store = ParameterStore()
        for v in graph.parameters {
            let node = graph[v]
            let shape = try XCTUnwrap(node.type.shape.resolved([:]))
            store.set(try XCTUnwrap(node.name), HostTensor(shape: shape, floats: TunedCompilation.synthetic(shape, positive: shape.count == 1)))
        }
        let image = HostTensor(shape: [1, 3, 32, 32], floats: TunedCompilation.synthetic([1, 3, 32, 32], positive: false))
        let executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: 2))
        return try XCTUnwrap(executor.run(feeds: ["image": image], parameters: store)[graph.outputs[0].name]).floats
    }

    func testTuningOffIsTheFixedDefaultAndMeasuresNothing() throws {
        let tuner = Tuner(mode: .off)
        let context = PassContext()
        let graph = try TunedCompilation.inference(try resnet(size: 32), context, tuner: tuner, threads: 2)
        XCTAssertFalse(graph.nodes.contains { $0.op.name == "winograd_conv2d" }, "blocked everywhere")
        XCTAssertEqual(context.statistics.first { $0.pass == "blocked-layout" }?["convolutions blocked"], 10)
        XCTAssertTrue(tuner.decisions.allSatisfy { $0.source == .fixed })
        XCTAssertFalse(tuner.decisions.contains { $0.key.point == "conv2d-graph" })
        XCTAssertNil(context.options.convolutionChooser, "the caller's options are left as given")
    }

    /// With every runner-up counted as close, the whole graph decides: the decision and each
    /// layer's confirmed choice are remembered, a second process reads them from the cache and
    /// compiles the same graph, and the features match the fixed default's within the
    /// encoder's bound.
    func testCloseCallsAreConfirmedOnTheWholeGraphAndRemembered() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-tuned-compile-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tuning.json")
        let lowered = try resnet(size: 32)
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url))
        let context = PassContext()
        let tuned = try TunedCompilation.inference(lowered, context, tuner: tuner, threads: 2, closeMargin: .infinity)
        let graphDecision = try XCTUnwrap(tuner.decisions.first { $0.key.point == "conv2d-graph" })
        XCTAssertEqual(graphDecision.source, .measured)
        let flips = TunedCompilation.mostSingleFlips
        XCTAssertEqual(graphDecision.seconds.map(\.variant), ["layers"] + (1...flips).map { "flip-\($0)" } + ["runner-ups"])
        XCTAssertTrue(graphDecision.seconds.allSatisfy { $0.seconds.isFinite && $0.seconds > 0 }, "\(graphDecision.seconds)")
        let confirmed = tuner.decisions.filter { $0.key.point == "conv2d-in-graph" }
        let layerKeys = Set(tuner.decisions.filter { $0.key.point == "conv2d-algorithm" }.map { $0.key.shape })
        XCTAssertGreaterThan(layerKeys.count, flips)
        XCTAssertEqual(confirmed.count, flips, "every layer was a close call; the slowest were confirmed")
        XCTAssertTrue(confirmed.allSatisfy { layerKeys.contains($0.key.shape.components(separatedBy: "-g")[0]) })
        XCTAssertEqual(context.statistics.filter { $0.pass == "blocked-layout" }.count, 1, "the caller's context saw one compilation")

        let again = Tuner(mode: .fast, cache: TuningCache(url: url))
        let reread = try TunedCompilation.inference(lowered, PassContext(), tuner: again, threads: 2, closeMargin: .infinity)
        XCTAssertEqual(IRPrinter.print(reread, locations: false), IRPrinter.print(tuned, locations: false))
        XCTAssertFalse(again.decisions.contains { $0.source == .measured && $0.key.point.hasPrefix("conv2d") }, "\(again.decisions.map(\.key))")
        XCTAssertTrue(again.decisions.contains { $0.key.point == "conv2d-in-graph" && $0.source == .cached })

        let fixed = try features(try TunedCompilation.inference(lowered, PassContext(), tuner: Tuner(mode: .off), threads: 2))
        let got = try features(tuned)
        let largest = fixed.map { abs(Double($0)) }.max() ?? 0
        XCTAssertGreaterThan(largest, 0)
        let worst = zip(got, fixed).map { abs(Double($0) - Double($1)) }.max() ?? .infinity
        XCTAssertLessThan(worst / largest, 1e-4)
    }

    /// The layers' own choices measured on a quiet machine, their confirmation in the whole
    /// graph on a busy one: the graph's decision and the confirmed choices are not remembered,
    /// and the close layers' own choices are left to be measured again, so that the next
    /// process finds the close calls again and confirms them (a choice read from the cache has
    /// no times, so no runner-up: kept as it was, it would never be confirmed).
    func testABusyConfirmationHasTheNextProcessMeasureTheCloseLayersAgain() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-tuned-compile-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("tuning.json")
        let lowered = try resnet(size: 32)
        let counting = Tuner(mode: .off)
        _ = try TunedCompilation.inference(lowered, PassContext(), tuner: counting, threads: 2)
        let layers = counting.decisions.filter { $0.key.point == "conv2d-algorithm" }.count
        XCTAssertGreaterThan(layers, TunedCompilation.mostSingleFlips)

        /// Readings a second apart, quiet until every layer has its own choice, then busy.
        final class Machine: @unchecked Sendable {
            let lock = NSLock()
            weak var tuner: Tuner?
            var at = 0.0, total = 0.0
            let layers: Int
            init(layers: Int) { self.layers = layers }
            func reading() -> CPUPressure? {
                let busy = (tuner?.decisions.filter { $0.key.point == "conv2d-algorithm" }.count ?? 0) >= layers
                return lock.withLock {
                    at += 1
                    if busy { total += 1 }
                    return CPUPressure(at: at, recentShare: 0, totalSeconds: total)
                }
            }
        }
        let machine = Machine(layers: layers)
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url), pressure: machine.reading)
        machine.tuner = tuner
        _ = try TunedCompilation.inference(lowered, PassContext(), tuner: tuner, threads: 2, closeMargin: .infinity)
        XCTAssertTrue(tuner.decisions.filter { $0.key.point == "conv2d-algorithm" }.allSatisfy { $0.source != .measuredBusy })
        XCTAssertEqual(tuner.decisions.first { $0.key.point == "conv2d-graph" }?.source, .measuredBusy)
        let confirmed = tuner.decisions.filter { $0.key.point == "conv2d-in-graph" }
        XCTAssertEqual(confirmed.count, TunedCompilation.mostSingleFlips)
        XCTAssertTrue(confirmed.allSatisfy { $0.source == .measuredBusy })
        XCTAssertFalse(TuningCache(url: url).choices(on: .current).keys.contains { $0.point == "conv2d-graph" || $0.point == "conv2d-in-graph" })

        let again = Tuner(mode: .fast, cache: TuningCache(url: url))
        _ = try TunedCompilation.inference(lowered, PassContext(), tuner: again, threads: 2, closeMargin: .infinity)
        XCTAssertEqual(again.decisions.filter { $0.key.point == "conv2d-algorithm" && $0.source == .measured }.count,
                       TunedCompilation.mostSingleFlips, "the close layers measured again, the others read")
        XCTAssertEqual(again.decisions.first { $0.key.point == "conv2d-graph" }?.source, .measured)
        XCTAssertEqual(again.decisions.filter { $0.key.point == "conv2d-in-graph" && $0.source == .measured }.count,
                       TunedCompilation.mostSingleFlips)
    }

    /// A model with an integer input beside the image (as a classifier's scoring graph has its
    /// labels) is fed zeros there and timed whole: its decision is measured, every time finite.
    func testAModelWithAnIntegerInputIsConfirmedOnZeros() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-tuned-compile-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        var source = try String(contentsOf: Q3Support.repository.appendingPathComponent("graphs/resnet18.swiftgraph"), encoding: .utf8)
        source = source.replacingOccurrences(of: "input(\"image\", [batch, 3, 500, 500])", with: "input(\"image\", [batch, 3, 32, 32])")
            .replacingOccurrences(of: "output(\"features\", layer4(layer3(layer2(layer1(stem)))))", with: "output(\"features\", layer1(stem))")
        source += "\nlet tag = input(\"tag\", [batch], .int64)\noutput(\"tag\", tag)\n"
        let lowered = try Frontend.lower(source: source, file: "resnet18.swiftgraph", options: FrontendOptions(mode: .infer))
        XCTAssertTrue(lowered.inputs.contains { lowered[$0].type.dtype == .i64 })
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: dir.appendingPathComponent("tuning.json")))
        let graph = try TunedCompilation.inference(lowered, PassContext(), tuner: tuner, threads: 2, closeMargin: .infinity)
        XCTAssertTrue(graph.nodes.contains { $0.op.name.hasPrefix("blocked_conv2d") || $0.op.name == "winograd_conv2d" })
        XCTAssertTrue(tuner.decisions.contains { $0.key.point == "conv2d-algorithm" && $0.source == .measured })
        let whole = try XCTUnwrap(tuner.decisions.first { $0.key.point == "conv2d-graph" }, "\(tuner.decisions.map(\.key.point))")
        XCTAssertEqual(whole.source, .measured)
        XCTAssertTrue(whole.seconds.allSatisfy { $0.seconds.isFinite }, "\(whole.seconds)")
    }

    /// The whole-graph decision is keyed by the batch it is timed at (the fingerprint is of a
    /// graph whose batch is symbolic): the same model at another batch is timed again rather
    /// than given the first batch's flips, which name other close calls.
    func testTheWholeGraphDecisionIsKeyedByTheBatch() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-tuned-compile-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: dir.appendingPathComponent("tuning.json")))
        let lowered = try resnet(size: 16)
        for batch in [1, 2] {
            _ = try TunedCompilation.inference(lowered, PassContext(options: PassOptions(batchSize: batch)), tuner: tuner, threads: 2,
                                               closeMargin: .infinity)
        }
        let graphDecisions = tuner.decisions.filter { $0.key.point == "conv2d-graph" }
        XCTAssertEqual(graphDecisions.map(\.key.shapes), [[[1]], [[2]]])
        XCTAssertTrue(graphDecisions.allSatisfy { $0.source == .measured }, "\(graphDecisions.map(\.source))")
    }
}
