import GraphIR

/// Builds a new graph from an old one node by node, remembering where each old value went.
/// Every rewriting pass goes through it, so locations, scopes, outputs, loss and metadata
/// are carried over the same way everywhere.
struct GraphRewriter {
    let pass: String
    let source: Graph
    /// Builds the new graph; passes that build more than a copied node take it through `builder(for:)`.
    let target: GraphBuilder
    /// Old value id -> its replacement in `target` (nil: not copied, e.g. dead).
    private(set) var map: [Value?]

    init(_ source: Graph, pass: String) {
        self.pass = pass
        self.source = source
        target = GraphBuilder(name: source.name)
        target.metadata = source.metadata
        map = [Value?](repeating: nil, count: source.nodes.count)
    }

    /// The new value for an old one; an error if the old graph used it before defining it.
    func remap(_ v: Value, in user: Value) throws -> Value {
        guard v.id >= 0, v.id < user.id, let m = map[v.id] else {
            throw nodeError(pass, source, user, "input \(v) is not an earlier value")
        }
        return m
    }

    func remapInputs(of v: Value) throws -> [Value] {
        try source.nodes[v.id].inputs.map { try remap($0, in: v) }
    }

    /// The target's builder, stamping what it builds with `node`'s location and scope (the
    /// node being replaced), so built nodes point at the source line they came from.
    func builder(for node: Node) -> GraphBuilder {
        target.location = node.location
        target.scope = node.scope
        return target
    }

    mutating func forward(_ old: Value, to new: Value) { map[old.id] = new }

    /// Appends `node` (inputs already remapped) as the replacement of `old`.
    @discardableResult
    mutating func emit(_ node: Node, for old: Value) -> Value {
        let v = target.append(node)
        map[old.id] = v
        return v
    }

    /// Copies `old` unchanged except for remapped inputs.
    @discardableResult
    mutating func copy(_ old: Value) throws -> Value {
        var node = source.nodes[old.id]
        node.inputs = try remapInputs(of: old)
        return emit(node, for: old)
    }

    /// Carries the outputs and loss over; every one of them must have been copied.
    func finish() throws -> Graph {
        for o in source.outputs {
            guard o.value.id >= 0, o.value.id < map.count, let m = map[o.value.id] else {
                throw PassError(pass: pass, "output \"\(o.name)\" refers to \(o.value), which is not in the graph")
            }
            target.outputs.append((o.name, m))
        }
        if let l = source.loss {
            guard l.id >= 0, l.id < map.count, let m = map[l.id] else {
                throw PassError(pass: pass, "the loss refers to \(l), which is not in the graph")
            }
            target.loss = m
        }
        return target.finish()
    }
}
