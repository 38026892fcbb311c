import GraphIR
import Runtime

/// What a converter sees of one ONNX node: its inputs (graph values or tensors known at
/// import), its attributes with typed readers, and a builder that locates every op it emits at
/// the node. Its errors name the node (`fail`).
public final class ONNXNodeContext {
    let importer: ONNXImporter
    public let node: Onnx_NodeProto
    /// The node's name, or `#index` when the file gives it none.
    public let name: String
    let inputs: [ONNXValue?]
    private var read: Set<String> = []

    init(importer: ONNXImporter, node: Onnx_NodeProto, name: String, inputs: [ONNXValue?]) {
        self.importer = importer; self.node = node; self.name = name; self.inputs = inputs
    }

    public var opset: Int { importer.opset }
    public var training: Bool { importer.options.training }
    public var builder: GraphBuilder { importer.builder }
    public var inputCount: Int { inputs.count }

    public func fail(_ message: String) -> ONNXError {
        ONNXError(file: importer.file, node: name, opType: node.opType, message)
    }

    // MARK: inputs

    /// Whether optional input `i` is given.
    public func has(_ i: Int) -> Bool { i < inputs.count && inputs[i] != nil }

    public func value(_ i: Int) throws -> ONNXValue {
        guard i < inputs.count, let v = inputs[i] else { throw fail("input \(i) is required but not given") }
        return v
    }

    /// Input `i` as a value of the graph (a tensor known at import becomes a parameter).
    public func tensor(_ i: Int) throws -> Value {
        let v = try value(i)
        return try importer.graphValue(v, name: node.input[i])
    }

    public func type(_ v: Value) -> TensorType { builder.type(of: v) }

    /// Input `i`'s type, whether a graph value or known at import.
    public func inputType(_ i: Int) throws -> TensorType {
        switch try value(i) {
        case .graph(let v): return type(v)
        case .constant(let t): return TensorType(t.dtype, Shape(known: t.shape))
        case .dims(let d, let scalar): return .i64(scalar ? Shape([]) : Shape(known: [d.count]))
        case .filled(let t, let shape): return TensorType(t.dtype, Shape(shape))
        }
    }

    /// Input `i`'s tensor when known at import.
    public func constant(_ i: Int) -> HostTensor? {
        guard has(i), case .constant(let t)? = inputs[i] else { return nil }
        return t
    }

    /// Input `i` as static int64 entries, possibly symbolic (a shape).
    public func staticDims(_ i: Int, _ what: String) throws -> (dims: [Dim], scalar: Bool) {
        guard let d = try value(i).staticDims else {
            throw fail("\(what) (input \(i)) must be an int64 tensor known when the model is imported (a constant or initializer, or computed from shapes)")
        }
        return d
    }

    /// Input `i` as known int64 numbers.
    public func staticInts(_ i: Int, _ what: String) throws -> [Int] {
        let d = try staticDims(i, what).dims
        return try d.map { dim in
            guard let n = dim.value else { throw fail("\(what) (input \(i)) depends on the symbolic size \(dim)") }
            return n
        }
    }

    // MARK: attributes

    public func attribute(_ key: String) -> Onnx_AttributeProto? {
        node.attribute.first { $0.name == key }
    }

    public func int(_ key: String) -> Int? { attribute(key).map { Int(clamping: $0.i) } }
    public func int(_ key: String, default d: Int) -> Int { int(key) ?? d }
    public func float(_ key: String) -> Double? { attribute(key).map { Double($0.f) } }
    public func float(_ key: String, default d: Double) -> Double { float(key) ?? d }
    public func ints(_ key: String) -> [Int]? { attribute(key).map { $0.ints.map { Int(clamping: $0) } } }
    /// An attribute of sizes, strides, dilations or paddings: each entry must lie within
    /// ±`Shape.maxElementCount` (as the IR parser bounds its integers), so that the window
    /// arithmetic on them stays in range (with `checkedSum` and `checkedProduct`).
    public func sizes(_ key: String) throws -> [Int]? {
        guard let a = attribute(key) else { return nil }
        if let bad = a.ints.first(where: { $0.magnitude > UInt64(Shape.maxElementCount) }) {
            throw fail("attribute \(key) holds \(bad), beyond graphc's limit of ±\(Shape.maxElementCount)")
        }
        return a.ints.map { Int($0) }
    }
    public func floats(_ key: String) -> [Float]? { attribute(key).map(\.floats) }
    public func string(_ key: String) -> String? { attribute(key).map { String(decoding: $0.s, as: UTF8.self) } }
    public func string(_ key: String, default d: String) -> String { string(key) ?? d }
    public func strings(_ key: String) -> [String]? { attribute(key).map { $0.strings.map { String(decoding: $0, as: UTF8.self) } } }
    public func tensorAttribute(_ key: String) throws -> HostTensor? {
        guard let a = attribute(key), a.hasT else { return nil }
        return try ONNXTensors.decode(a.t, file: importer.file, folder: importer.folder)
    }

    /// Refuses an attribute set to a value other than the one graphc supports.
    public func require(_ key: String, _ supported: Int, _ why: String) throws {
        if let v = int(key), v != supported { throw fail("attribute \(key)=\(v) is not supported (\(why))") }
    }

    // MARK: building

    /// Emits `op`, with a shape error reported against this node.
    @discardableResult
    public func emit(_ op: OpDef, _ inputs: [Value], _ attributes: Attributes = Attributes()) throws -> Value {
        do { return try builder.emit(op, inputs, attributes) } catch let e as BuildError {
            throw fail("\(e.op): \(e.message) (inputs: \(e.inputs.map(\.description).joined(separator: ", ")))")
        }
    }

    /// The sum of `terms`, or an error naming the node and `what` when it overflows.
    public func checkedSum(_ terms: Int..., what: @autoclosure () -> String) throws -> Int {
        var total = 0
        for t in terms {
            let (s, overflow) = total.addingReportingOverflow(t)
            if overflow { throw fail("\(what()) is too large to compute") }
            total = s
        }
        return total
    }

    /// The product of `factors`, or an error naming the node and `what` when it overflows.
    public func checkedProduct(_ factors: Int..., what: @autoclosure () -> String) throws -> Int {
        try checkedProduct(of: factors, what: what())
    }

    public func checkedProduct(of factors: [Int], what: @autoclosure () -> String) throws -> Int {
        var total = 1
        for f in factors {
            let (p, overflow) = total.multipliedReportingOverflow(by: f)
            if overflow { throw fail("\(what()) is too large to compute") }
            total = p
        }
        return total
    }

    /// A float tensor of `shape` made at import as a graph value (a frozen parameter named
    /// `name`), counted against the memory budget before its `count` elements are made.
    func madeConstant(_ shape: [Int], name: String, _ make: (_ count: Int) -> [Float]) throws -> Value {
        guard shape.allSatisfy({ $0 >= 0 }), let bytes = MemoryBudget.bytes(elements: shape, byteSize: 4) else {
            throw fail("a constant of shape \(shape) is too large")
        }
        try importer.account(bytes, for: "the constant \(name) of shape \(shape)", context: self)
        return try importer.graphValue(.constant(HostTensor(shape: shape, floats: make(bytes / 4))), name: name)
    }

    /// An axis attribute or input normalised to 0..<rank.
    public func axis(_ a: Int, rank: Int) throws -> Int {
        let ax = a < 0 ? a + rank : a
        guard ax >= 0, ax < rank else { throw fail("axis \(a) is out of range for rank \(rank)") }
        return ax
    }

    /// The known size of axis `axis` of `v`.
    public func knownSize(_ v: Value, _ axis: Int, _ what: String) throws -> Int {
        let s = type(v).shape
        guard axis < s.rank, let n = s[axis].value else { throw fail("needs a known \(what) size, the input is \(type(v))") }
        return n
    }
}
