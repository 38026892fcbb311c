import Foundation
import Frontend
import GraphIR
import Passes
import XCTest
@testable import Runtime

/// Values computed from parameters only (packed convolution weights, folded BatchNorms) are
/// computed once by the executor and again only when a weight changes: results must be those
/// of computing them in every run, bit for bit, before and after every kind of change.
final class ParameterDerivedCacheTests: XCTestCase {
    /// A small ResNet-like encoder: convolutions with bias and BatchNorm, a residual block with
    /// a strided downsample, max pooling; the blocked layout folds each BatchNorm into a scale
    /// and shift (add, log, scale, exp, mul, sub... on the parameters) and packs each weight.
    static let source = """
    let image = input("image", [batch, 3, 20, 20])
    let conv1 = Conv2d(16, kernel: 3, stride: 1, padding: 1)
    let bn1 = BatchNorm2d()
    let pool = MaxPool2d(3, stride: 2, padding: 1)
    let conv2 = Conv2d(32, kernel: 3, stride: 2, padding: 1, bias: false)
    let bn2 = BatchNorm2d()
    let conv3 = Conv2d(32, kernel: 3, stride: 1, padding: 1, bias: false)
    let bn3 = BatchNorm2d()
    let down = Conv2d(32, kernel: 1, stride: 2, bias: false)
    let bn4 = BatchNorm2d()
    let x = pool(relu(bn1(conv1(image))))
    output("features", relu(bn3(conv3(relu(bn2(conv2(x))))) + bn4(down(x))))
    """

    var graph: Graph!

    override func setUpWithError() throws {
        graph = try Pipelines.compileForInference(try Frontend.lower(source: Self.source, file: "small-encoder.swiftgraph",
                                                                     options: FrontendOptions(mode: .infer)), .checked)
    }

    /// Every parameter from `seed`: variances in [0.5, 1.5], everything else in [-1, 1].
    func weights(seed: UInt64) throws -> ParameterStore {
        let store = ParameterStore()
        let data = TestData(seed: seed)
        for v in graph.parameters {
            let node = graph[v]
            let name = try XCTUnwrap(node.name)
            let shape = try XCTUnwrap(node.type.shape.resolved([:]))
            store.set(name, data.floats(shape, in: name.hasSuffix("running_var") ? 0.5...1.5 : -1...1))
        }
        return store
    }

    func image(_ seed: UInt64) -> [String: HostTensor] { ["image": TestData(seed: seed).floats([1, 3, 20, 20])] }

    func features(_ executor: Executor, _ feeds: [String: HostTensor], _ store: ParameterStore) throws -> [Float] {
        try XCTUnwrap(executor.run(feeds: feeds, parameters: store)["features"]).floats
    }

    /// What an executor computing everything in every run gives.
    func reference(_ store: ParameterStore, _ feeds: [String: HostTensor], threads: Int? = 2) throws -> [Float] {
        let plain = try Executor(graph: graph, options: ExecutionOptions(threads: threads, computesParameterValuesOnce: false))
        XCTAssertNil(plain.parameterDerived)
        return try features(plain, feeds, store)
    }

    func testTheCompiledGraphHasASeveralOpParameterSubgraph() throws {
        let executor = try Executor(graph: graph, options: ExecutionOptions(threads: 2))
        let derived = try XCTUnwrap(executor.parameterDerived)
        let ops = Set(derived.nodes.map { graph.nodes[$0].op.name })
        XCTAssertTrue(ops.isSuperset(of: ["pack_conv_weight", "add", "log", "exp", "mul"]), "\(ops)")
        XCTAssertEqual(derived.nodes.filter { graph.nodes[$0].op == .packConvWeight }.count, 4)
        XCTAssertFalse(derived.temporary.isEmpty, "the folded BatchNorms' intermediate values")
        XCTAssertGreaterThan(executor.parameterDerivedBytes, (16 * 3 * 9 + 32 * 16 * 9 + 32 * 32 * 9 + 32 * 16) * 4)
    }

    func testCachedResultsEqualComputingEveryRunBitForBit() throws {
        let store = try weights(seed: 1)
        for threads in [nil, 1, 2] as [Int?] {
            let cached = try Executor(graph: graph, options: ExecutionOptions(threads: threads))
            for seed: UInt64 in 10...13 {
                XCTAssertEqual(try features(cached, image(seed), store), try reference(store, image(seed), threads: threads),
                               "image \(seed), threads \(threads.map(String.init) ?? "none")")
            }
            XCTAssertEqual(cached.parameterDerivedComputations, 1, "computed before the first run only")
        }
    }

    /// Runs time only their own nodes: the derived ones have no time and no FLOPs in a run.
    func testRunsDoNotComputeThem() throws {
        let store = try weights(seed: 2)
        let executor = try Executor(graph: graph, options: ExecutionOptions(threads: 1))
        executor.measuresTime = true
        for seed: UInt64 in 1...3 { _ = try features(executor, image(seed), store) }
        XCTAssertEqual(executor.timedRuns, 3)
        let derived = try XCTUnwrap(executor.parameterDerived)
        for i in derived.nodes {
            XCTAssertEqual(executor.nodeSeconds[i], 0, "%\(i) \(graph.nodes[i].op.name) ran in a run")
            XCTAssertEqual(executor.nodeFlops[i], 0)
        }
        XCTAssertGreaterThan(executor.nodeSeconds.reduce(0, +), 0)
        XCTAssertEqual(executor.parameterDerivedComputations, 1)
        let memory = try XCTUnwrap(executor.memorySummary)
        XCTAssertEqual(memory.parameterDerived, executor.parameterDerivedBytes)
        XCTAssertTrue(memory.description.contains("computed once from parameters"), memory.description)
    }

    /// A new checkpoint loaded into the store gives the new weights' results.
    func testLoadingACheckpointRecomputes() throws {
        let store = try weights(seed: 3)
        let executor = try Executor(graph: graph, options: ExecutionOptions(threads: 2))
        let before = try features(executor, image(1), store)
        XCTAssertEqual(before, try reference(store, image(1)))

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-derived-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: file) }
        try weights(seed: 4).save(to: file.path)
        try store.load(from: file.path, for: graph)
        let after = try features(executor, image(1), store)
        XCTAssertNotEqual(after, before, "new weights give new features")
        XCTAssertEqual(after, try reference(store, image(1)))
        XCTAssertEqual(executor.parameterDerivedComputations, 2)
        _ = try features(executor, image(2), store)
        XCTAssertEqual(executor.parameterDerivedComputations, 2, "nothing changed since")
    }

    /// One BatchNorm statistic changed in the store (a new version of one weight).
    func testOneChangedWeightRecomputes() throws {
        let store = try weights(seed: 5)
        let executor = try Executor(graph: graph, options: ExecutionOptions(threads: 2))
        let before = try features(executor, image(1), store)
        let name = try XCTUnwrap(store.names.first { $0.hasSuffix("running_var") && $0.contains("3") } ?? store.names.last { $0.hasSuffix("running_var") })
        store.update(name) { values in for i in values.indices { values[i] *= 4 } }
        let after = try features(executor, image(1), store)
        XCTAssertNotEqual(after, before, name)
        XCTAssertEqual(after, try reference(store, image(1)))
    }

    /// A different store, and weights written in place through `parameterBuffer` (as a
    /// trainer's optimiser does) followed by `noteParametersWritten`.
    func testOtherStoresAndInPlaceWritesRecompute() throws {
        let first = try weights(seed: 6), second = try weights(seed: 7)
        let executor = try Executor(graph: graph, options: ExecutionOptions(threads: 2))
        XCTAssertEqual(try features(executor, image(1), first), try reference(first, image(1)))
        XCTAssertEqual(try features(executor, image(1), second), try reference(second, image(1)))

        let conv = try XCTUnwrap(graph.parameters.compactMap { graph[$0].name }.first { $0.hasPrefix("conv2") && $0.hasSuffix("weight") })
        let buffer = try XCTUnwrap(executor.parameterBuffer(named: conv))
        for i in buffer.indices { buffer[i] = -buffer[i] }
        executor.noteParametersWritten(to: second)
        let written = try features(executor, image(1), second)
        // The store fetches the written weights back when read: the reference sees them.
        XCTAssertEqual(second.get(conv)?.floats.first, buffer.first)
        XCTAssertEqual(written, try reference(second, image(1)))
    }

    /// Weights only derived values read (convolution weights once packed or transformed,
    /// BatchNorm statistics once folded) have no copy in the executor, as onnxruntime drops
    /// weights once prepacked: its parameter memory shrinks, the store keeps them, results are
    /// the same bits, and a changed weight still gives new derived values.
    func testWeightsOnlyDerivedValuesReadAreNotHeld() throws {
        let store = try weights(seed: 9)
        let executor = try Executor(graph: graph, options: ExecutionOptions(threads: 2))
        let plain = try Executor(graph: graph, options: ExecutionOptions(threads: 2, computesParameterValuesOnce: false))
        XCTAssertEqual(try features(executor, image(1), store), try features(plain, image(1), store))
        let readOnlyByDerived = try XCTUnwrap(executor.parameterDerived).parametersReadOnlyByDerivedNodes(graph)
        XCTAssertFalse(readOnlyByDerived.isEmpty)
        let releasedBytes = readOnlyByDerived.reduce(0) { $0 + ((graph.nodes[$1].type.shape.resolved([:]) ?? []).reduce(4, *) + 63) / 64 * 64 }
        let held = try XCTUnwrap(executor.memorySummary?.parameters), all = try XCTUnwrap(plain.memorySummary?.parameters)
        XCTAssertEqual(held, all - releasedBytes)
        for id in readOnlyByDerived {
            XCTAssertTrue(graph.nodes.enumerated().allSatisfy { i, node in !node.inputs.contains { $0.id == id } || executor.parameterDerived?.isDerived[i] == true })
        }
        let conv = try XCTUnwrap(graph.parameters.compactMap { graph[$0].name }.first { $0.hasPrefix("conv2") && $0.hasSuffix("weight") })
        XCTAssertNotNil(store.get(conv), "the store keeps the weight")
        store.update(conv) { values in for i in values.indices { values[i] *= -1 } }
        XCTAssertEqual(try features(executor, image(2), store), try features(plain, image(2), store))
        XCTAssertEqual(executor.parameterDerivedComputations, 2)
    }

    /// Temporary derived values are freed once computed; kept ones read as computed.
    func testValuesOfDerivedNodes() throws {
        let store = try weights(seed: 8)
        let executor = try Executor(graph: graph, options: ExecutionOptions(threads: 2))
        _ = try features(executor, image(1), store)
        let plain = try Executor(graph: graph, options: ExecutionOptions(threads: 2, computesParameterValuesOnce: false))
        _ = try features(plain, image(1), store)
        let derived = try XCTUnwrap(executor.parameterDerived)
        for i in derived.temporary { XCTAssertNil(executor.value(Value(i))) }
        for i in derived.kept { XCTAssertEqual(executor.value(Value(i))?.floats, plain.value(Value(i))?.floats, "%\(i)") }
    }

    /// A non-finite value made from the weights is found where it is made, as in a run.
    func testNumericsCheckCoversThem() throws {
        let store = try weights(seed: 9)
        let name = try XCTUnwrap(store.names.first { $0.hasSuffix("running_var") })
        store.update(name) { $0[0] = -2 }   // (var + eps)^-1/2 through log: NaN
        let executor = try Executor(graph: graph, options: ExecutionOptions(threads: 2))
        executor.checksNumerics = true
        XCTAssertThrowsError(try executor.run(feeds: image(1), parameters: store)) { error in
            guard let finding = error as? NumericsFinding else { return XCTFail("\(error)") }
            XCTAssertEqual(finding.op, "log")
        }
        store.update(name) { $0[0] = 1 }
        XCTAssertEqual(try features(executor, image(1), store), try reference(store, image(1)), "computed again after the error")
    }

    /// A training graph's executor computes everything in every run (its weights change at
    /// every step), unless asked otherwise.
    func testTrainingGraphsComputeEveryRunByDefault() throws {
        let g = try IRParser.parse("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %w = param() {name="w", init="ones"} : f32[4]
          %t = neg(%w) : f32[4]
          %y = mul(%x, %t) : f32[B,4]
          output "y" = %y
          output "grad:w" = %t
        }
        """, file: "test.gir")
        XCTAssertNil(try Executor(graph: g, options: ExecutionOptions(training: true)).parameterDerived)
        let forced = try Executor(graph: g, options: ExecutionOptions(training: true, computesParameterValuesOnce: true))
        XCTAssertEqual(forced.parameterDerived?.nodes, [2])
        let store = ParameterStore()
        try store.initialise(from: g, seed: 1)
        let y = try forced.run(feeds: ["x": HostTensor(shape: [1, 4], floats: [1, 2, 3, 4])], parameters: store)["y"]
        XCTAssertEqual(y?.floats, [-1, -2, -3, -4])
    }
}
