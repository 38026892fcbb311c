/// An SSA value: the result of the node with the same index. Printed `%index`.
public struct Value: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let id: Int
    public init(_ id: Int) { self.id = id }
    public var description: String { "%\(id)" }
    public static func < (a: Value, b: Value) -> Bool { a.id < b.id }
}

/// One operation and its single result. Inputs always name earlier nodes, so the node array
/// is a topological order and every pass can walk it front to back in linear time.
public struct Node: Sendable {
    public var op: OpDef
    public var inputs: [Value]
    public var attributes: Attributes
    public var type: TensorType
    /// The DSL source position that made this node (nil for nodes a pass made from nothing).
    public var location: SourceLocation?
    /// The module path the node belongs to, e.g. `convblock1.0` or `decode_step`; empty at top.
    public var scope: String

    public init(op: OpDef, inputs: [Value], attributes: Attributes = Attributes(), type: TensorType,
                location: SourceLocation? = nil, scope: String = "") {
        self.op = op; self.inputs = inputs; self.attributes = attributes; self.type = type
        self.location = location; self.scope = scope
    }

    /// The `name` attribute of inputs and parameters.
    public var name: String? { attributes[.name] }

    /// Inputs and parameters: the graph's interface, typed by declaration.
    public var isInterface: Bool { op == .input || op == .param }
}

/// A whole model: nodes in topological order, named outputs, an optional scalar loss, and
/// graph-level metadata (what the model trains on and how it is scored).
public final class Graph {
    public var name: String
    public internal(set) var nodes: [Node] = []
    public var outputs: [(name: String, value: Value)] = []
    public var loss: Value?
    public var metadata = Attributes()

    public init(name: String) { self.name = name }

    public subscript(v: Value) -> Node { nodes[v.id] }
    public func type(of v: Value) -> TensorType { nodes[v.id].type }
    public var values: [Value] { nodes.indices.map(Value.init) }

    /// Appends a node whose inputs must already exist; returns its value.
    @discardableResult
    public func append(_ node: Node) -> Value {
        precondition(node.inputs.allSatisfy { $0.id < nodes.count }, "graph nodes must be appended in topological order")
        nodes.append(node)
        return Value(nodes.count - 1)
    }

    public func output(named n: String) -> Value? { outputs.first { $0.name == n }?.value }

    /// The outputs autodiff added, one per trainable parameter (empty: not differentiated).
    public var gradientOutputs: [(name: String, value: Value)] { outputs.filter { GradientOutput.parameter(of: $0.name) != nil } }

    public var inputs: [Value] { values.filter { nodes[$0.id].op == .input } }
    public var parameters: [Value] { values.filter { nodes[$0.id].op == .param } }
    public func input(named n: String) -> Value? { inputs.first { nodes[$0.id].name == n } }
    public func parameter(named n: String) -> Value? { parameters.first { nodes[$0.id].name == n } }

    /// For each value, how many nodes (and graph outputs/loss) use it.
    public func useCounts() -> [Int] {
        var counts = [Int](repeating: 0, count: nodes.count)
        for n in nodes { for i in n.inputs { counts[i.id] += 1 } }
        for o in outputs { counts[o.value.id] += 1 }
        if let l = loss { counts[l.id] += 1 }
        return counts
    }

    /// For each value, the indices of the nodes that read it, in graph order, each once.
    public func users() -> [[Int]] {
        var users = [[Int]](repeating: [], count: nodes.count)
        for (i, n) in nodes.enumerated() { for v in n.inputs where users[v.id].last != i { users[v.id].append(i) } }
        return users
    }

    /// For each value, the index of the last node that reads it (nil: no node does; outputs
    /// and the loss are not nodes). With a use count of 1 that node is its only reader.
    public func lastReaders() -> [Int?] {
        var readers = [Int?](repeating: nil, count: nodes.count)
        for (i, n) in nodes.enumerated() { for v in n.inputs { readers[v.id] = i } }
        return readers
    }

    public func copy() -> Graph {
        let g = Graph(name: name)
        g.nodes = nodes; g.outputs = outputs; g.loss = loss; g.metadata = metadata
        return g
    }
}

/// How the gradient of a parameter is named among a graph's outputs: `grad:<parameter>`.
/// Autodiff makes these outputs, the trainer reads them, and a dumped `.gir` shows them.
public enum GradientOutput {
    public static let prefix = "grad:"

    public static func name(forParameter parameter: String) -> String { prefix + parameter }

    /// The parameter whose gradient the output `name` is (nil: not a gradient output).
    public static func parameter(of name: String) -> String? {
        name.hasPrefix(prefix) ? String(name.dropFirst(prefix.count)) : nil
    }
}
