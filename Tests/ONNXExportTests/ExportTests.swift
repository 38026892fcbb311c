import Foundation
import GraphIR
import ONNX
import Runtime
import SwiftProtobuf
import Training
import XCTest

/// `ONNXExport`: what the written model holds (interface, weights, one rule per op), and the
/// errors for what cannot be exported. onnxruntime runs the exports in
/// scripts/onnx-export-check.sh; graphc runs them again in `ONNXRoundTripTests`.
final class ExportTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func graph(_ name: String) -> String { root.appendingPathComponent("graphs/\(name).swiftgraph").path }

    func testCNNInterfaceWeightsAndNodes() throws {
        let run = try ModelExport.exportable(file: Self.graph("cnn"))
        let m = try ONNXExport.model(run.graph, parameters: run.parameters)
        XCTAssertEqual(m.irVersion, 8)
        XCTAssertEqual(m.opsetImport.map(\.version), [17])
        // The loss and its label input are not part of the inference outputs' graph.
        XCTAssertEqual(m.graph.input.map(\.name), ["image"])
        let dims = m.graph.input[0].type.tensorType.shape.dim
        XCTAssertEqual(dims.first?.dimParam, "B")
        XCTAssertEqual(dims.dropFirst().map(\.dimValue), [1, 28, 28])
        XCTAssertEqual(m.graph.output.map(\.name), ["logProbs"])
        XCTAssertEqual(m.graph.output[0].type.tensorType.elemType, Int32(Onnx_TensorProto.DataType.float.rawValue))
        XCTAssertEqual(m.graph.node.map(\.opType), ["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Reshape",
                                                    "Gemm", "Add", "Relu", "Gemm", "Add", "Relu", "Gemm", "Add", "LogSoftmax"])
        // Every parameter is an initializer holding its value, little-endian f32.
        for name in run.parameters.names {
            let value = try XCTUnwrap(run.parameters.get(name))
            let t = try XCTUnwrap(m.graph.initializer.first { $0.name == name }, name)
            XCTAssertEqual(t.dims, value.shape.map(Int64.init))
            let floats = t.rawData.withUnsafeBytes { raw in
                (0..<(raw.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.load(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
            XCTAssertEqual(floats, value.floats, name)
        }
        // Nodes carry their module scope in the name and the DSL line that made them.
        let conv = m.graph.node[0]
        XCTAssertTrue(conv.name.hasPrefix("convblock1.0/conv2d_"), conv.name)
        XCTAssertTrue(conv.docString.hasPrefix(Self.graph("cnn") + ":"), conv.docString)
        XCTAssertEqual(conv.attribute.first { $0.name == "pads" }?.ints, [1, 1, 1, 1])
    }

    func testWrittenFileParsesBackWhole() throws {
        let run = try ModelExport.exportable(file: Self.graph("caption_lstm"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-export-\(UUID().uuidString).onnx").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let written = try ONNXExport.write(run.graph, parameters: run.parameters, to: path)
        let read = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(read, written)
        XCTAssertEqual(read.graph.input.map(\.name), ["features", "start"])
        XCTAssertEqual(read.graph.output.map(\.name), ["words"])
        XCTAssertEqual(read.graph.output[0].type.tensorType.elemType, Int32(Onnx_TensorProto.DataType.int64.rawValue))
        // The greedy loop: one ArgMax per step fed back through a Gather from the embedding table.
        XCTAssertEqual(read.graph.node.filter { $0.opType == "ArgMax" }.count, 22)
        XCTAssertEqual(read.graph.node.filter { $0.opType == "Gather" }.count, 22)
    }

    /// A batch that moves in a reshape is read from the input's shape at run time.
    func testReshapeMovingTheBatch() throws {
        let b = GraphBuilder(name: "moves")
        let x = b.input("x", .f32(Shape([.known(3), .symbol("B")])))
        let y = try b.emit(.reshape, [x], ["shape": .shape(Shape([.symbol("B"), .known(3)]))])
        b.outputs = [("y", y)]
        let m = try ONNXExport.model(b.finish(), parameters: ParameterStore())
        XCTAssertEqual(m.graph.node.map(\.opType), ["Shape", "Gather", "Concat", "Reshape"])
    }

    func testOpWithoutRuleIsNamedWithItsLocation() throws {
        let b = GraphBuilder(name: "fused")
        b.location = SourceLocation(file: "model.gir", line: 7, column: 3)
        let x = b.input("x", .f32([2, 8])), w = b.input("w", .f32([8, 4])), bias = b.input("bias", .f32([4]))
        let y = try b.emit(.fusedMatmul, [x, w, bias], ["activation": .string("relu")])
        b.outputs = [("y", y)]
        XCTAssertThrowsError(try ONNXExport.model(b.finish(), parameters: ParameterStore())) { e in
            let text = "\(e)"
            XCTAssertTrue(text.hasPrefix("model.gir:7:3: error: op 'fused_matmul' has no ONNX export"), text)
            XCTAssertTrue(text.contains("node %3"), text)
        }
    }

    func testMissingParameterValueIsAnError() throws {
        let b = GraphBuilder(name: "p")
        let w = b.parameter("w", .f32([2]), initializer: ["init": .string("zeros")])
        b.outputs = [("y", try b.emit(.relu, [w]))]
        XCTAssertThrowsError(try ONNXExport.model(b.finish(), parameters: ParameterStore())) { e in
            XCTAssertTrue("\(e)".contains("no value for parameter 'w'"), "\(e)")
        }
    }

    /// Every rule exports the op it names, and no op has two.
    func testRulesNameRegisteredOps() {
        for rule in ONNXExportRules.all { XCTAssertNotNil(OpRegistry.named(rule.op.name), rule.op.name) }
        XCTAssertEqual(ONNXExportRules.byOpName.count, ONNXExportRules.all.count)
    }
}
