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
///
/// A graph is immutable once built: every property is a `let`, and the only way to make or
/// change one is a `GraphBuilder`, which owns the graph under construction and hands out a
/// finished `Graph` with `finish()`. A pass therefore cannot change the graph it is given; it
/// returns a new one (built by a `GraphRewriter`, or by `GraphBuilder(copying:)` when it only
/// adds to the old graph). Graphs stay classes so that identity (`===`) names one graph, which
/// is what `PassContext` keys its cached analyses by.
public final class Graph {
    public let name: String
    public let nodes: [Node]
    public let outputs: [(name: String, value: Value)]
    public let loss: Value?
    public let metadata: Attributes

    /// Only a builder makes graphs (`GraphBuilder.finish()`).
    init(name: String, nodes: [Node], outputs: [(name: String, value: Value)], loss: Value?, metadata: Attributes) {
        self.name = name; self.nodes = nodes; self.outputs = outputs; self.loss = loss; self.metadata = metadata
    }

    public subscript(v: Value) -> Node { nodes[v.id] }
    public func type(of v: Value) -> TensorType { nodes[v.id].type }
    public var values: [Value] { nodes.indices.map(Value.init) }

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
