import Foundation
import GraphIR
@testable import ONNX
import Passes
import Runtime
import XCTest

/// Export of the attributes added with the ONNX importer's conformance work: argmax's
/// select_last, pads of integer tensors, and pad mode "wrap" (not in opset 17).
final class ExportMiscOpsTests: XCTestCase {
    /// argmax with select_last and an edge pad of an i64 tensor, exported and imported again:
    /// same outputs, the pad's fill written as an int64 scalar.
    func testArgmaxSelectLastAndIntegerPadRoundTrip() throws {
        let b = GraphBuilder(name: "misc")
        let x = b.input("x", .f32([2, 4]))
        let ids = b.input("ids", .i64([3]))
        b.outputs = [("last", try b.emit(.argmax, [x], ["axis": .int(1), "select_last": .bool(true)])),
                     ("padded", try b.emit(.pad, [ids], ["pads": .ints([1, 2]), "mode": .string("constant"), "pad_value": .float(-4)]))]
        let m = try ONNXExport.model(b.finish(), parameters: ParameterStore())
        let argmax = try XCTUnwrap(m.graph.node.first { $0.opType == "ArgMax" })
        XCTAssertEqual(argmax.attribute.first { $0.name == "select_last_index" }?.i, 1)
        let pad = try XCTUnwrap(m.graph.node.first { $0.opType == "Pad" })
        let fill = try XCTUnwrap(m.graph.initializer.first { $0.name == pad.input[2] })
        XCTAssertEqual(fill.dataType, Int32(Onnx_TensorProto.DataType.int64.rawValue))
        XCTAssertEqual(fill.dims, [])

        let model = try ONNXModel.load(proto: m, file: "misc.onnx", folder: "/nonexistent")
        let graph = try Pipelines.compileForInference(model.graph)
        let parameters = ParameterStore()
        try model.initialise(parameters, for: graph)
        let out = try Executor(graph: graph, options: ExecutionOptions(training: false)).run(
            feeds: ["x": HostTensor(shape: [2, 4], floats: [1, 3, 3, 0, 2, 2, 2, 2]), "ids": HostTensor(shape: [3], ints: [7, 8, 9])],
            parameters: parameters)
        XCTAssertEqual(out["last"]?.ints, [2, 3])
        XCTAssertEqual(out["padded"]?.ints, [-4, 7, 8, 9, -4, -4])
    }

    func testWrapPaddingIsRefusedForOpset17() throws {
        let b = GraphBuilder(name: "wrap")
        let x = b.input("x", .f32([2, 3]))
        b.outputs = [("y", try b.emit(.pad, [x], ["pads": .ints([0, 1, 0, 1]), "mode": .string("wrap")]))]
        XCTAssertThrowsError(try ONNXExport.model(b.finish(), parameters: ParameterStore())) { e in
            XCTAssertTrue("\(e)".contains("pad mode \"wrap\" needs opset 19"), "\(e)")
        }
    }
}
