import Foundation
import GraphIR
import Runtime
import SwiftProtobuf

/// A graphc graph as an ONNX model (opset 17), with its weights as initializers:
///
///     let model = try ModelRun(file: "graphs/cnn.swiftgraph", weights: "results/best.safetensors")
///     try ONNXExport.write(model.graph, parameters: model.parameters, to: "cnn.onnx")
///
/// Inputs keep their names and types (a symbolic batch `B` becomes the dimension parameter
/// `B`), parameters become initializers under their names, and the declared outputs keep
/// theirs; only what the outputs need is written (a loss and its label input are left out).
/// Each node becomes the ONNX nodes of its op's rule (`ONNXExportRules`), named after its module
/// scope, with its DSL location as the node's doc string. A node whose op has no rule is an error
/// naming the op and the DSL line that made it.
public enum ONNXExport {
    public static let opsetVersion: Int64 = 17
    /// The IR version that goes with opset 17 (ONNX 1.12).
    public static let irVersion: Int64 = 8

    /// Writes the model to `path` atomically (a temporary file renamed over it) and returns it.
    @discardableResult
    public static func write(_ graph: Graph, parameters: ParameterStore, to path: String) throws -> Onnx_ModelProto {
        let m = try model(graph, parameters: parameters)
        let bytes: Data = try m.serializedBytes()
        try AtomicFile.write(bytes, to: URL(fileURLWithPath: path))
        return m
    }

    /// The ONNX model of `graph`, its parameters' values taken from `parameters` by name.
    public static func model(_ graph: Graph, parameters: ParameterStore) throws -> Onnx_ModelProto {
        guard !graph.outputs.isEmpty else { throw RuntimeError("graph \(graph.name) declares no outputs: nothing to export to ONNX") }
        let needed = reachable(graph)
        var reserved = Set<String>()
        for (i, node) in graph.nodes.enumerated() where needed[i] && node.isInterface { reserved.insert(node.name ?? "") }
        for o in graph.outputs {
            if reserved.contains(o.name) && graph[o.value].name != o.name {
                throw RuntimeError("output '\(o.name)' has the name of an input or parameter of \(graph.name): ONNX values need distinct names")
            }
            reserved.insert(o.name)
        }
        let w = ONNXGraphWriter(reserved: reserved)
        var names = [String](repeating: "", count: graph.nodes.count)
        for o in graph.outputs.reversed() where !graph[o.value].isInterface { names[o.value.id] = o.name }

        var onnx = Onnx_GraphProto()
        onnx.name = graph.name
        for (i, node) in graph.nodes.enumerated() where needed[i] {
            if node.isInterface {
                let name = node.name ?? "%\(i)"
                names[i] = name
                if node.op == .input {
                    guard node.fedType == node.type else {
                        throw problem(node, i, "input '\(name)' is taken reduced (reduced-inputs); export the model before the speed-up passes")
                    }
                    onnx.input.append(valueInfo(name, node.type))
                } else {
                    onnx.initializer.append(try initializer(name, node.type, parameters))
                }
                continue
            }
            let base = (node.scope.isEmpty ? "" : node.scope + "/") + "\(node.op.name)_\(i)"
            if names[i].isEmpty { names[i] = w.fresh(base) }
            guard let rule = ONNXExportRules.rule(for: node.op) else {
                throw problem(node, i, "op '\(node.op.name)' has no ONNX export (graphc exports: \(ONNXExportRules.byOpName.keys.sorted().joined(separator: ", ")))")
            }
            w.currentName = base
            w.currentDoc = node.location?.description ?? ""
            let exported = ExportedNode(node: node, inputs: node.inputs.map { names[$0.id] },
                                        inputTypes: node.inputs.map { graph.type(of: $0) }, output: names[i])
            do {
                try rule.export(exported, into: w)
            } catch let e as ONNXExportProblem {
                throw problem(node, i, "cannot export \(node.op.name) to ONNX: \(e.message)")
            }
        }
        // An output that is an input, a parameter or another output's value gets a copy.
        w.currentName = "outputs"
        w.currentDoc = ""
        for o in graph.outputs where names[o.value.id] != o.name {
            w.add("Identity", [names[o.value.id]], output: o.name)
        }
        onnx.node = w.nodes
        onnx.initializer += w.constants
        onnx.output = graph.outputs.map { valueInfo($0.name, graph.type(of: $0.value)) }

        var m = Onnx_ModelProto()
        m.irVersion = irVersion
        var opset = Onnx_OperatorSetIdProto()
        opset.domain = ""
        opset.version = opsetVersion
        m.opsetImport = [opset]
        m.producerName = "graphc"
        m.graph = onnx
        return m
    }

    /// Which nodes the declared outputs read, directly or not (nodes are in topological order).
    static func reachable(_ graph: Graph) -> [Bool] {
        var needed = [Bool](repeating: false, count: graph.nodes.count)
        for o in graph.outputs { needed[o.value.id] = true }
        for i in graph.nodes.indices.reversed() where needed[i] {
            for v in graph.nodes[i].inputs { needed[v.id] = true }
        }
        return needed
    }

    /// An ONNX value's type: element type and dimensions, a symbol as a dimension parameter.
    static func valueInfo(_ name: String, _ type: TensorType) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        shape.dim = type.shape.dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch d {
            case .known(let n): dim.dimValue = Int64(n)
            case .symbol(let s): dim.dimParam = s
            }
            return dim
        }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = ONNXTensorWriting.dataType(type.dtype)
        tensor.shape = shape
        var t = Onnx_TypeProto()
        t.tensorType = tensor
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = t
        return info
    }

    static func initializer(_ name: String, _ type: TensorType, _ parameters: ParameterStore) throws -> Onnx_TensorProto {
        guard let value = parameters.get(name) else { throw RuntimeError("no value for parameter '\(name)' \(type): nothing to write to ONNX") }
        guard let declared = type.shape.resolved([:]), declared == value.shape, value.dtype == type.dtype else {
            throw RuntimeError("parameter '\(name)' is declared \(type) but its value is \(value.dtype.rawValue)\(value.shape)")
        }
        return try ONNXTensorWriting.proto(value, name: name)
    }

    /// An export error at the node's DSL line (or naming the node when it has none).
    static func problem(_ node: Node, _ index: Int, _ message: String) -> Error {
        let what = "node %\(index)" + (node.scope.isEmpty ? "" : " in '\(node.scope)'")
        guard let location = node.location else { return RuntimeError("\(what): \(message)") }
        return Diagnostic("\(message) (\(what))", at: location)
    }
}
