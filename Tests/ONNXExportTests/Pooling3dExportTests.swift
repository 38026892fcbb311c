import Foundation
import GraphIR
import ONNX
import Passes
import Runtime
import SwiftProtobuf
import XCTest

/// graphc's 3-D pools exported as MaxPool and AveragePool and imported again give the same
/// outputs; a dilated average, which the exported opset 17 cannot say, is a named error.
final class Pooling3dExportTests: XCTestCase {
    func pooled(dilation: [Int] = [1, 1, 1]) throws -> Graph {
        let b = GraphBuilder(name: "volumes")
        let x = b.input("x", .f32([1, 2, 5, 6, 4]))
        let m = try b.emit(.maxpool3d, [x], ["kernel": .ints([2, 3, 2]), "stride": .ints([1, 2, 1]), "padding": .ints([1, 0, 0, 0, 1, 1]),
                                             "ceil_mode": .bool(true)])
        let a = try b.emit(.avgpool3d, [m], ["kernel": .ints([2, 2, 2]), "stride": .ints([1, 1, 2]), "padding": .ints([1, 1, 0]),
                                             "dilation": .ints(dilation), "count_include_pad": .bool(true)])
        b.outputs = [("y", a)]
        return b.finish()
    }

    func run(_ graph: Graph, _ feeds: [String: HostTensor]) throws -> HostTensor {
        let executor = try Executor(graph: graph, options: ExecutionOptions(training: false))
        return try XCTUnwrap(try executor.run(feeds: feeds, parameters: ParameterStore())["y"])
    }

    func testMaxAndAveragePoolRoundTrip() throws {
        let graph = try pooled()
        let model = try ONNXExport.model(graph, parameters: ParameterStore())
        XCTAssertEqual(model.graph.node.map(\.opType), ["MaxPool", "AveragePool"])
        let bytes: Data = try model.serializedBytes()
        let imported = try ONNXModel.load(data: bytes, file: "volumes.onnx", folder: ".")
        let compiled = try Pipelines.compileForInference(imported.graph)
        let feeds = ["x": HostTensor(shape: [1, 2, 5, 6, 4], floats: (0..<240).map { Float(($0 * 37) % 240) / 100 - 1 })]
        let expected = try run(graph, feeds), got = try run(compiled, feeds)
        XCTAssertEqual(got.shape, expected.shape)
        XCTAssertEqual(got.floats, expected.floats)
    }

    func testDilatedAverageIsRefused() throws {
        XCTAssertThrowsError(try ONNXExport.model(try pooled(dilation: [1, 2, 1]), parameters: ParameterStore())) { e in
            XCTAssertTrue("\(e)".contains("AveragePool takes dilations from opset 19"), "\(e)")
        }
    }
}
