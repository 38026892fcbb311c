/// A builder's complaint: an op rejected its inputs. Carries what a user needs to fix it.
public struct BuildError: Error, CustomStringConvertible {
    public let op: String
    public let inputs: [TensorType]
    public let message: String
    public let location: SourceLocation?

    public var description: String {
        let shapes = inputs.map(\.description).joined(separator: ", ")
        return "\(op): \(message) (inputs: \(shapes))"
    }
}

/// Builds a graph: the only way to make or change one (a finished `Graph` is immutable). It
/// owns the graph under construction, runs each op's shape rule so every value is typed as it
/// is made, and hands out the graph with `finish()`. The frontend, the IR parser, autodiff and
/// the rewriting passes all build through here.
public final class GraphBuilder {
    public var name: String
    /// The nodes built so far, in topological order.
    public private(set) var nodes: [Node] = []
    public var outputs: [(name: String, value: Value)] = []
    public var loss: Value?
    public var metadata = Attributes()
    /// Stamped on every node built until changed.
    public var location: SourceLocation?
    public var scope: String = ""

    /// Starts an empty graph.
    public init(name: String) { self.name = name }

    /// Starts from a copy of `graph`, for a pass that only adds to it (autodiff appends the
    /// backward, count-params adds metadata); `graph` itself is left as it is.
    public init(copying graph: Graph) {
        name = graph.name; nodes = graph.nodes; outputs = graph.outputs; loss = graph.loss; metadata = graph.metadata
    }

    /// The graph built so far. Building on afterwards does not change it.
    public func finish() -> Graph {
        Graph(name: name, nodes: nodes, outputs: outputs, loss: loss, metadata: metadata)
    }

    public subscript(v: Value) -> Node { nodes[v.id] }
    public func type(of v: Value) -> TensorType { nodes[v.id].type }
    public func shape(of v: Value) -> Shape { nodes[v.id].type.shape }

    /// Appends a node already typed, whose inputs must already exist; returns its value.
    /// (Rewriters copying nodes and the IR parser use it; everything else emits.)
    @discardableResult
    public func append(_ node: Node) -> Value {
        precondition(node.inputs.allSatisfy { $0.id < nodes.count }, "graph nodes must be appended in topological order")
        nodes.append(node)
        return Value(nodes.count - 1)
    }

    /// Builds `op(inputs) {attributes}` after checking arity, running its shape rule and checking
    /// the result holds at most `Shape.maxElementCount` elements.
    @discardableResult
    public func emit(_ op: OpDef, _ inputs: [Value], _ attributes: Attributes = Attributes()) throws -> Value {
        let types = inputs.map { self.type(of: $0) }
        guard op.arity.accepts(inputs.count) else {
            throw BuildError(op: op.name, inputs: types, message: "wrong number of inputs (\(inputs.count))", location: location)
        }
        let type: TensorType
        do {
            type = try op.shape(ShapeQuery(inputs: types, attributes: attributes))
            // The limit the verifier and the IR parser apply, so that no built type exceeds it either.
            try checkSize(type)
        } catch let e as ShapeError {
            throw BuildError(op: op.name, inputs: types, message: e.message, location: location)
        }
        return append(Node(op: op, inputs: inputs, attributes: attributes, type: type, location: location, scope: scope))
    }

    /// Source nodes carry their own type (inputs, parameters).
    @discardableResult
    public func emitSource(_ op: OpDef, type: TensorType, _ attributes: Attributes) -> Value {
        append(Node(op: op, inputs: [], attributes: attributes, type: type, location: location, scope: scope))
    }

    public func input(_ name: String, _ type: TensorType) -> Value {
        emitSource(.input, type: type, ["name": .string(name)])
    }

    public func parameter(_ name: String, _ type: TensorType, initializer: Attributes) -> Value {
        var attrs: Attributes = ["name": .string(name)]
        for (k, v) in initializer { attrs[k] = v }
        return emitSource(.param, type: type, attrs)
    }

    public func scalar(_ v: Double) throws -> Value {
        try emit(.constant, [], ["value": .float(v)])
    }
}

/// What a gradient rule gets: the node, the gradient flowing into its result, and a builder
/// positioned after the forward graph.
public struct GradientContext {
    public let builder: GraphBuilder
    public let node: Node
    /// The node's own result (useful when the gradient reuses it, as for sigmoid or softmax).
    public let result: Value
    public let gradient: Value
    /// Which inputs lie on a path from a trainable parameter to the loss; a rule builds
    /// nothing for the others (their gradient would be dead code, e.g. a conv's image input).
    public let needed: [Bool]

    public init(builder: GraphBuilder, node: Node, result: Value, gradient: Value, needed: [Bool]? = nil) {
        self.builder = builder; self.node = node; self.result = result; self.gradient = gradient
        self.needed = needed ?? Array(repeating: true, count: node.inputs.count)
    }

    public var inputs: [Value] { node.inputs }
    public func type(_ v: Value) -> TensorType { builder.type(of: v) }
}
