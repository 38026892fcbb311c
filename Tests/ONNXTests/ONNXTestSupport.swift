import Foundation
import GraphIR
import Passes
import Runtime
import XCTest
@testable import ONNX

enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static func path(_ relative: String) -> String { folder.appendingPathComponent(relative).path }
}

/// A model imported, compiled (fused, verified after every pass) and run.
struct ImportedRun {
    let model: ONNXModel
    let graph: Graph
    let store = ParameterStore()
    let executor: Executor

    init(_ path: String, fusion: Bool = true) throws {
        try self.init(model: try ONNXModel.load(path: path), fusion: fusion)
    }

    init(model: ONNXModel, fusion: Bool = true) throws {
        self.model = model
        // The whole pipeline, as --run and --dump-ir compile a model without a loss (fusion included).
        let options = PassOptions(verifyEach: true, fusion: fusion)
        graph = try Pipelines.compile(for: model.graph, options).run(model.graph, PassContext(options: options))
        try model.initialise(store, for: graph)
        executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: 1))
    }

    func run(_ feeds: [String: HostTensor]) throws -> [String: HostTensor] {
        try executor.run(feeds: feeds, parameters: store)
    }
}

/// The ONNX test data layout: test_data_set_0/input_k.pb and output_k.pb.
func referenceData(_ model: String) throws -> (inputs: [(String, HostTensor)], outputs: [(String, HostTensor)]) {
    let folder = Fixtures.path("\(model)/test_data_set_0")
    func read(_ prefix: String) throws -> [(String, HostTensor)] {
        var out: [(String, HostTensor)] = []
        var k = 0
        while FileManager.default.fileExists(atPath: "\(folder)/\(prefix)_\(k).pb") {
            let t = try ONNXTensors.read(path: "\(folder)/\(prefix)_\(k).pb")
            out.append((t.name, t.tensor))
            k += 1
        }
        return out
    }
    return (try read("input"), try read("output"))
}

func maxAbsDifference(_ a: HostTensor, _ b: HostTensor) -> Float {
    zip(a.floats, b.floats).map { abs($0 - $1) }.max() ?? 0
}

/// Builds small ONNX models in code for the error and op tests.
enum ModelMaker {
    static func tensor(_ name: String, _ shape: [Int], _ values: [Float]) -> Onnx_TensorProto {
        var t = Onnx_TensorProto()
        t.name = name; t.dims = shape.map(Int64.init); t.dataType = 1; t.floatData = values
        return t
    }

    static func input(_ name: String, _ dims: [Int64?], elemType: Int32 = 1) -> Onnx_ValueInfoProto {
        var v = Onnx_ValueInfoProto()
        v.name = name
        var t = Onnx_TypeProto.Tensor()
        t.elemType = elemType
        var s = Onnx_TensorShapeProto()
        s.dim = dims.map { d in
            var x = Onnx_TensorShapeProto.Dimension()
            if let d { x.dimValue = d } else { x.dimParam = "N" }
            return x
        }
        t.shape = s
        v.type.tensorType = t
        return v
    }

    static func node(_ op: String, _ inputs: [String], _ outputs: [String], name: String = "", _ attributes: [Onnx_AttributeProto] = []) -> Onnx_NodeProto {
        var n = Onnx_NodeProto()
        n.opType = op; n.input = inputs; n.output = outputs; n.name = name; n.attribute = attributes
        return n
    }

    static func ints(_ name: String, _ v: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .ints; a.ints = v.map(Int64.init); return a
    }

    static func int(_ name: String, _ v: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .int; a.i = Int64(v); return a
    }

    static func model(nodes: [Onnx_NodeProto], inputs: [Onnx_ValueInfoProto], outputs: [String],
                      initializers: [Onnx_TensorProto] = [], opset: Int64 = 17) -> Onnx_ModelProto {
        var g = Onnx_GraphProto()
        g.name = "test"; g.node = nodes; g.input = inputs; g.initializer = initializers
        g.output = outputs.map { var v = Onnx_ValueInfoProto(); v.name = $0; return v }
        var m = Onnx_ModelProto()
        m.irVersion = 8; m.graph = g
        var o = Onnx_OperatorSetIdProto(); o.version = opset
        m.opsetImport = [o]
        return m
    }

    static func load(_ m: Onnx_ModelProto, folder: String = "/nonexistent") throws -> ONNXModel {
        try ONNXModel.load(data: try m.serializedData(), file: "test.onnx", folder: folder)
    }
}
