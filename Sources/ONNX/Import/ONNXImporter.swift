import Foundation
import GraphIR
import Runtime

/// Walks an ONNX graph in dependency order and converts each node with its `ONNXOpConverter`.
final class ONNXImporter {
    let file: String
    let folder: String
    let opset: Int
    let options: ONNXModel.Options
    let builder: GraphBuilder
    /// Every ONNX value name read so far.
    var values: [String: ONNXValue] = [:]
    /// Initializers not yet used as graph values; they become parameters on first use.
    var pendingInitializers: Set<String> = []
    /// Node outputs that graphc does not compute (optional outputs), with the node that has them.
    var uncomputed: [String: (node: String, opType: String)] = [:]
    var parameters: [String: HostTensor] = [:]
    private var materialised: [String: Value] = [:]
    /// Bytes of the tensors made at import (ConstantOfShape), all held at once.
    private var madeBytes = 0

    /// Counts `bytes` more of tensors made at import against the memory budget.
    func account(_ bytes: Int, for what: String, context c: ONNXNodeContext) throws {
        let (total, overflow) = madeBytes.addingReportingOverflow(bytes)
        do { try MemoryBudget.check(overflow ? nil : total, for: "\(what) (with the \(madeBytes) bytes of constants made before it)") }
        catch let e as RuntimeError { throw c.fail(e.message) }
        madeBytes = total
    }

    init(file: String, folder: String, opset: Int, options: ONNXModel.Options) {
        self.file = file; self.folder = folder; self.opset = opset; self.options = options
        builder = GraphBuilder(name: ONNXImporter.graphName(file))
    }

    static func graphName(_ file: String) -> String {
        let stem = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        return stem.isEmpty ? "onnx" : stem
    }

    func run(_ g: Onnx_GraphProto) throws -> (Graph, [String: HostTensor]) {
        builder.location = SourceLocation(file: file, line: 0, column: 0)
        for t in g.initializer {
            guard !t.name.isEmpty else { throw ONNXError(file: file, "an initializer has no name") }
            guard values[t.name] == nil else { throw ONNXError(file: file, "initializer \"\(t.name)\" is given twice") }
            values[t.name] = .constant(try ONNXTensors.decode(t, file: file, folder: folder))
            pendingInitializers.insert(t.name)
        }
        guard g.sparseInitializer.isEmpty else { throw ONNXError(file: file, "sparse initializers are not supported") }
        for i in g.input where values[i.name] == nil {
            guard !i.name.isEmpty else { throw ONNXError(file: file, "a graph input has no name") }
            let type = try inputType(i)
            values[i.name] = .graph(builder.input(i.name, type))
        }
        for (index, node) in try ONNXImporter.ordered(g.node, file: file, defined: Set(values.keys)).enumerated() {
            _ = index
            try convert(node.proto, index: node.index)
        }
        builder.location = SourceLocation(file: file, line: 0, column: 0)
        guard !g.output.isEmpty else { throw ONNXError(file: file, "the graph has no outputs") }
        for o in g.output {
            if let u = uncomputed[o.name] {
                throw ONNXError(file: file, node: u.node, opType: u.opType, "its output \"\(o.name)\" (a graph output) is not computed by graphc")
            }
            guard let v = values[o.name] else {
                throw ONNXError(file: file, "graph output \"\(o.name)\" is not computed by any node")
            }
            builder.outputs.append((o.name, try graphValue(v, name: o.name)))
        }
        return (builder.finish(), parameters)
    }

    /// A graph input's type from its declaration: float types become f32, integer types i64;
    /// a dimension without a number stays symbolic (its `dim_param`, or a made-up name).
    func inputType(_ i: Onnx_ValueInfoProto) throws -> TensorType {
        guard i.hasType, case .tensorType(let t)? = i.type.value else {
            throw ONNXError(file: file, "graph input \"\(i.name)\" is not declared as a tensor")
        }
        guard let dtype = ONNXTensors.dtype(onnx: t.elemType) else {
            throw ONNXError(file: file, "graph input \"\(i.name)\" has element type \(ONNXTensors.typeName(t.elemType)), which graphc does not hold")
        }
        guard t.hasShape else { throw ONNXError(file: file, "graph input \"\(i.name)\" has no shape") }
        var dims: [Dim] = []
        for (axis, d) in t.shape.dim.enumerated() {
            switch d.value {
            case .dimValue(let n)?:
                guard n >= 0, n <= Int64(Int32.max) else { throw ONNXError(file: file, "graph input \"\(i.name)\": dimension \(n) is out of range") }
                dims.append(.known(Int(n)))
            case .dimParam(let s)?: dims.append(.symbol(ONNXImporter.symbol(s)))
            case nil: dims.append(.symbol(ONNXImporter.symbol("\(i.name)_\(axis)")))
            }
        }
        return TensorType(dtype, Shape(dims))
    }

    /// A dimension name as an IR symbol (letters, digits, `_`; not starting with a digit).
    static func symbol(_ s: String) -> String {
        var out = String(s.unicodeScalars.map { c -> Character in
            let ok = (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || (c >= "0" && c <= "9") || c == "_"
            return ok ? Character(c) : "_"
        })
        if out.first?.isNumber ?? true { out = "_" + out }
        return out
    }

    /// The nodes in an order where each comes after the nodes whose outputs it reads (ONNX
    /// requires files to be sorted already; a file that is not is sorted here, in linear time).
    /// A node reading a name nothing defines, or nodes depending on each other in a cycle, is an error.
    static func ordered(_ nodes: [Onnx_NodeProto], file: String, defined: Set<String>) throws -> [(index: Int, proto: Onnx_NodeProto)] {
        var producer: [String: Int] = [:]
        for (i, n) in nodes.enumerated() {
            for o in n.output where !o.isEmpty {
                if defined.contains(o) || producer[o] != nil {
                    throw ONNXError(file: file, node: label(n, i), opType: n.opType, "its output \"\(o)\" is already defined (ONNX values are assigned once)")
                }
                producer[o] = i
            }
        }
        var waiting = [Int](repeating: 0, count: nodes.count)
        var readers = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() {
            for name in n.input where !name.isEmpty {
                if let p = producer[name] { waiting[i] += 1; readers[p].append(i) }
                else if !defined.contains(name) {
                    throw ONNXError(file: file, node: label(n, i), opType: n.opType, "input \"\(name)\" is not defined (no graph input, initializer or node output has that name)")
                }
            }
        }
        var order: [Int] = []
        order.reserveCapacity(nodes.count)
        for i in nodes.indices where waiting[i] == 0 { order.append(i) }
        var k = 0
        while k < order.count {
            for r in readers[order[k]] {
                waiting[r] -= 1
                if waiting[r] == 0 { order.append(r) }
            }
            k += 1
        }
        if order.count < nodes.count, let stuck = nodes.indices.first(where: { waiting[$0] > 0 }) {
            throw ONNXError(file: file, node: label(nodes[stuck], stuck), opType: nodes[stuck].opType,
                            "is part of a cycle: it depends, through its inputs, on its own output")
        }
        return order.map { ($0, nodes[$0]) }
    }

    static func label(_ n: Onnx_NodeProto, _ index: Int) -> String { n.name.isEmpty ? "#\(index)" : n.name }

    func convert(_ node: Onnx_NodeProto, index: Int) throws {
        let name = ONNXImporter.label(node, index)
        func fail(_ m: String) -> ONNXError { ONNXError(file: file, node: name, opType: node.opType, m) }
        guard node.domain.isEmpty || node.domain == "ai.onnx" else {
            throw fail("operators of domain \"\(node.domain)\" are not supported (only the default domain ai.onnx)")
        }
        guard let converter = ONNXOps.byType[node.opType] else {
            throw fail("op \(node.opType) is not supported")
        }
        guard converter.opsets.contains(opset) else {
            throw fail("op \(node.opType) is supported in opsets \(converter.opsets.lowerBound) to \(converter.opsets.upperBound), the model uses opset \(opset)")
        }
        var inputs: [ONNXValue?] = []
        for i in node.input {
            if i.isEmpty { inputs.append(nil); continue }
            if let u = uncomputed[i] {
                throw fail("reads \"\(i)\", an output of node \"\(u.node)\" (\(u.opType)) that graphc does not compute")
            }
            guard let v = values[i] else { throw fail("input \"\(i)\" is not defined") }
            inputs.append(v)
        }
        builder.location = ONNXNodeLocation.make(file: file, node: name, opType: node.opType)
        let context = ONNXNodeContext(importer: self, node: node, name: name, inputs: inputs)
        let results = try converter.convert(context)
        for (k, o) in node.output.enumerated() where !o.isEmpty {
            if k < results.count { values[o] = results[k] } else { uncomputed[o] = (name, node.opType) }
        }
    }

    /// `v` as a value of the graph: an initializer becomes a parameter under its ONNX name; any
    /// other tensor known at import a frozen parameter named after the value (a float scalar a
    /// constant op).
    func graphValue(_ v: ONNXValue, name: String, buffer: Bool = false, trainable: Bool = false) throws -> Value {
        switch v {
        case .graph(let g): return g
        case .dims(let dims, _):
            throw ONNXError(file: file, "value \"\(name)\" is a shape with symbolic sizes \(dims); graphc computes shapes only at import")
        case .filled(_, let shape):
            throw ONNXError(file: file, "value \"\(name)\" is a constant of the symbolic shape \(shape), which graphc cannot make as a graph value")
        case .constant(let t):
            if let m = materialised[name] { return m }
            let isInitializer = trainable || pendingInitializers.contains(name)
            let value: Value
            if !isInitializer, !buffer, t.dtype == .f32, t.shape.isEmpty, let s = t.scalar {
                value = try builder.scalar(Double(s))
            } else {
                // The values come from the model (`ONNXModel.initialise`); `zeros` lets code that
                // only times a graph (fusion tuning) initialise it from a seed as any other.
                var attributes: Attributes = ["init": .string("zeros")]
                if buffer { attributes["buffer"] = .bool(true) }
                else if !isInitializer || t.dtype == .i64 { attributes["trainable"] = .bool(false) }
                let unique = parameters[name] == nil ? name : "\(name)#\(builder.nodes.count)"
                value = builder.parameter(unique, TensorType(t.dtype, Shape(known: t.shape)), initializer: attributes)
                parameters[unique] = t
            }
            materialised[name] = value
            return value
        }
    }
}
