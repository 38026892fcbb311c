import Datasets
import Foundation
import GraphIR
import ONNX
import Passes
import Runtime
import SwiftProtobuf
import Training
import XCTest

/// Round trips through ONNX without Python: a model PyTorch exported (the committed fixture
/// `Fixtures/torch_small_cnn.onnx`, made by `Fixtures/make_torch_fixture.py`) gives PyTorch's
/// outputs in graphc, and a graphc model exported and imported again gives the same outputs.
final class ONNXRoundTripTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// Compiles an imported model for inference and runs it once.
    func run(_ model: ONNXModel, _ feeds: [String: HostTensor]) throws -> [String: HostTensor] {
        let graph = try Pipelines.compileForInference(model.graph)
        let parameters = ParameterStore()
        try model.initialise(parameters, for: graph)
        let executor = try Executor(graph: graph, options: ExecutionOptions(training: false), planner: BufferPlan.lifetimes)
        return try executor.run(feeds: feeds, parameters: parameters)
    }

    func maxAbsDifference(_ a: HostTensor, _ b: HostTensor) -> Float {
        zip(a.floats, b.floats).map { abs($0 - $1) }.max() ?? 0
    }

    func testPyTorchExportGivesPyTorchOutputs() throws {
        let model = try ONNXModel.load(path: Self.fixtures.appendingPathComponent("torch_small_cnn.onnx").path)
        XCTAssertEqual(model.producer, "pytorch")
        let npz = try NPZArchive(path: Self.fixtures.appendingPathComponent("torch_small_cnn.npz").path)
        let x = try npz.array("x"), y = try npz.array("y")
        let out = try run(model, ["x": HostTensor(shape: x.shape, floats: x.floats())])
        let got = try XCTUnwrap(out["y"])
        XCTAssertEqual(got.shape, y.shape)
        let expected = HostTensor(shape: y.shape, floats: y.floats())
        XCTAssertLessThan(maxAbsDifference(got, expected), 1e-5)
        // Not a vacuous match: the outputs differ from row to row.
        XCTAssertNotEqual(Array(expected.floats[0..<10]), Array(expected.floats[10..<20]))
    }

    /// graphc -> ONNX -> graphc: the imported export gives the graphc model's outputs.
    func roundTrip(_ file: String, _ feeds: [String: HostTensor], file line: StaticString = #filePath, line number: UInt = #line) throws {
        let original = try ModelExport.exportable(file: ExportTests.graph(file))
        let exported: Data = try ONNXExport.model(original.graph, parameters: original.parameters).serializedBytes()
        let imported = try ONNXModel.load(data: exported, file: file + ".onnx", folder: ".")
        let expected = try original.run(original.inputs.reduce(into: [String: HostTensor]()) { d, input in
            d[input.name] = feeds[input.name] ?? HostTensor(zeros: input.type.shape.dims.map { $0.value ?? 2 }, dtype: input.type.dtype)
        })
        let got = try run(imported, feeds)
        for o in original.graph.outputs {
            let e = try XCTUnwrap(expected.first { $0.name == o.name }?.value, file: line, line: number)
            let g = try XCTUnwrap(got[o.name], "no output \(o.name)", file: line, line: number)
            XCTAssertEqual(g.shape, e.shape, o.name, file: line, line: number)
            XCTAssertEqual(g.dtype, e.dtype, o.name, file: line, line: number)
            XCTAssertLessThanOrEqual(maxAbsDifference(g, e), 1e-6, o.name, file: line, line: number)
        }
    }

    func testCNNRoundTrip() throws {
        var rng = SeededNumbers(seed: 3)
        try roundTrip("cnn", ["image": HostTensor(shape: [2, 1, 28, 28], floats: (0..<(2 * 784)).map { _ in rng.next() })])
    }

    func testCaptionDecoderRoundTrip() throws {
        // Greedy decoding feeds each step's ArgMax back; the importer must read it.
        try XCTSkipUnless(ONNXOps.byType["ArgMax"] != nil, "the ONNX importer does not read ArgMax yet")
        var rng = SeededNumbers(seed: 4)
        try roundTrip("caption_lstm", ["features": HostTensor(shape: [2, 256, 512], floats: (0..<(2 * 256 * 512)).map { _ in rng.next() }),
                                       "start": HostTensor(shape: [2], ints: [1, 1])])
    }
}

/// Uniform values in [-1, 1) from a fixed seed (a linear congruential generator: the tests need
/// varied inputs, not good randomness).
struct SeededNumbers {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 40) / Float(1 << 23) - 1
    }
}
