import GraphIR
import Passes
import Runtime
import XCTest
@testable import ONNX

/// Models exported from PyTorch (Fixtures/make_onnx_fixtures.py) run in graphc give PyTorch's
/// outputs on PyTorch's inputs.
final class PyTorchFixtureTests: XCTestCase {
    func testClassifierMatchesPyTorch() throws {
        let run = try ImportedRun(Fixtures.path("tiny_classifier/model.onnx"))
        XCTAssertEqual(run.model.graph.type(of: try XCTUnwrap(run.model.graph.input(named: "image"))).description, "f32[batch,1,28,28]")
        // The initializers are parameters under their PyTorch names; BatchNorm statistics are buffers.
        let names = Set(run.model.graph.parameters.compactMap { run.model.graph[$0].name })
        XCTAssertEqual(names, ["conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                               "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        let mean = try XCTUnwrap(run.model.graph.parameter(named: "bn1.running_mean"))
        XCTAssertEqual(run.model.graph[mean].attributes[.buffer], true)
        // view(x.size(0), -1) folds to one reshape with the symbolic batch: no shape op is left.
        XCTAssertFalse(run.model.graph.nodes.contains { $0.op == .param && $0.type.dtype == .i64 })
        let data = try referenceData("tiny_classifier")
        let out = try run.run(["image": data.inputs[0].1])
        let expected = data.outputs[0].1
        let got = try XCTUnwrap(out["log_probs"])
        XCTAssertEqual(got.shape, expected.shape)
        XCTAssertLessThan(maxAbsDifference(got, expected), 1e-5)
    }

    func testLSTMMatchesPyTorchAndFusesIntoCells() throws {
        let run = try ImportedRun(Fixtures.path("tiny_lstm/model.onnx"))
        XCTAssertEqual(run.graph.nodes.filter { $0.op == .lstmCell }.count, 3, "one fused cell per step of the sequence of 3")
        let data = try referenceData("tiny_lstm")
        let out = try run.run(["x": data.inputs[0].1])
        for (name, expected) in data.outputs {
            let got = try XCTUnwrap(out[name], name)
            XCTAssertEqual(got.shape, expected.shape, name)
            XCTAssertLessThan(maxAbsDifference(got, expected), 1e-5, name)
        }
        // The unfused graph computes the same.
        let plain = try ImportedRun(Fixtures.path("tiny_lstm/model.onnx"), fusion: false)
        XCTAssertFalse(plain.graph.nodes.contains { $0.op == .lstmCell })
        let again = try plain.run(["x": data.inputs[0].1])
        XCTAssertLessThan(maxAbsDifference(try XCTUnwrap(again["y"]), try XCTUnwrap(out["y"])), 1e-6)
    }

    func testNodesAreLocatedAtTheirONNXNode() throws {
        let model = try ONNXModel.load(path: Fixtures.path("tiny_classifier/model.onnx"))
        let conv = try XCTUnwrap(model.graph.nodes.first { $0.op == .conv2d })
        XCTAssertEqual(conv.location?.file, Fixtures.path("tiny_classifier/model.onnx") + ": node \"/conv1/Conv\" (Conv)")
        let text = IRPrinter.print(model.graph)
        XCTAssertTrue(text.contains(#"(Conv)":0:0)"#), text)
        // The printed IR parses back.
        _ = try IRParser.parse(text, file: "dumped.gir")
    }
}
