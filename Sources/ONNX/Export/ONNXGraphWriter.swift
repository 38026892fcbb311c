import Foundation
import GraphIR

/// What export rules write into: ONNX nodes and constant initializers, with fresh value names
/// that collide with no name of the model (inputs, parameters, outputs).
public final class ONNXGraphWriter {
    public private(set) var nodes: [Onnx_NodeProto] = []
    public private(set) var constants: [Onnx_TensorProto] = []
    private var taken: Set<String>
    private var nodeNames: Set<String> = []
    /// The ONNX node name of the graphc node being exported, and its DSL location.
    var currentName = ""
    var currentDoc = ""

    init(reserved: Set<String>) { taken = reserved }

    /// A value name nobody has used yet, from `base`.
    public func fresh(_ base: String) -> String {
        var name = base, k = 1
        while taken.contains(name) { k += 1; name = "\(base)_\(k)" }
        taken.insert(name)
        return name
    }

    /// Appends a node; `output` nil gives it a fresh result name. Returns the result's name.
    @discardableResult
    public func add(_ opType: String, _ inputs: [String], output: String? = nil, attributes: [Onnx_AttributeProto] = []) -> String {
        let out = output ?? fresh("\(currentName)/\(opType)")
        var n = Onnx_NodeProto()
        n.opType = opType
        n.input = inputs
        n.output = [out]
        n.attribute = attributes
        n.name = nodeName(opType)
        if !currentDoc.isEmpty { n.docString = currentDoc }
        nodes.append(n)
        return out
    }

    /// The graphc node's name for its first ONNX node, then `name/OpType` (made unique).
    private func nodeName(_ opType: String) -> String {
        var name = nodeNames.contains(currentName) || currentName.isEmpty ? "\(currentName)/\(opType)" : currentName, k = 1
        let base = name
        while nodeNames.contains(name) { k += 1; name = "\(base)_\(k)" }
        nodeNames.insert(name)
        return name
    }

    /// A 1-D i64 constant (a shape, axes, starts, ends), as an initializer.
    public func int64s(_ values: [Int], _ hint: String = "const") -> String {
        let name = fresh("\(currentName)/\(hint)")
        constants.append(ONNXTensorWriting.int64s(values.map(Int64.init), name: name))
        return name
    }

    /// A scalar i64 constant (a `Gather` index that drops its axis).
    public func int64Scalar(_ value: Int, _ hint: String = "index") -> String {
        let name = fresh("\(currentName)/\(hint)")
        var p = ONNXTensorWriting.int64s([Int64(value)], name: name)
        p.dims = []
        constants.append(p)
        return name
    }

    /// A scalar f32 constant.
    public func float(_ value: Float, _ hint: String = "const") -> String {
        let name = fresh("\(currentName)/\(hint)")
        constants.append(ONNXTensorWriting.floats([value], shape: [], name: name))
        return name
    }
}

/// Node attributes, built as ONNX writes them.
public enum ONNXAttribute {
    public static func int(_ name: String, _ v: Int) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .int; a.i = Int64(v); return a
    }
    public static func ints(_ name: String, _ v: [Int]) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .ints; a.ints = v.map(Int64.init); return a
    }
    public static func float(_ name: String, _ v: Double) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .float; a.f = Float(v); return a
    }
    public static func string(_ name: String, _ v: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .string; a.s = Data(v.utf8); return a
    }
    public static func tensor(_ name: String, _ t: Onnx_TensorProto) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .tensor; a.t = t; return a
    }
}
