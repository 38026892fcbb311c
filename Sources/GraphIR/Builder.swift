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

/// Appends nodes to a graph, running each op's shape rule so every value is typed as it is
/// made. The frontend, autodiff and rewriting passes all build through here.
public final class GraphBuilder {
    public let graph: Graph
    /// Stamped on every node built until changed.
    public var location: SourceLocation?
    public var scope: String = ""

    public init(graph: Graph) { self.graph = graph }

    public func type(of v: Value) -> TensorType { graph.type(of: v) }
    public func shape(of v: Value) -> Shape { graph.type(of: v).shape }

    /// Builds `op(inputs) {attributes}` after checking arity and running its shape rule.
    @discardableResult
    public func emit(_ op: OpDef, _ inputs: [Value], _ attributes: Attributes = Attributes()) throws -> Value {
        let types = inputs.map { graph.type(of: $0) }
        guard op.arity.accepts(inputs.count) else {
            throw BuildError(op: op.name, inputs: types, message: "wrong number of inputs (\(inputs.count))", location: location)
        }
        let type: TensorType
        do {
            type = try op.shape(ShapeQuery(inputs: types, attributes: attributes))
        } catch let e as ShapeError {
            throw BuildError(op: op.name, inputs: types, message: e.message, location: location)
        }
        return graph.append(Node(op: op, inputs: inputs, attributes: attributes, type: type, location: location, scope: scope))
    }

    /// Source nodes carry their own type (inputs, parameters).
    @discardableResult
    public func emitSource(_ op: OpDef, type: TensorType, _ attributes: Attributes) -> Value {
        graph.append(Node(op: op, inputs: [], attributes: attributes, type: type, location: location, scope: scope))
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
