/// Checks a graph's invariants: every input names an earlier node, every node's attributes fit
/// its op's declared schema, every op gets an accepted
/// number of inputs and has the type its shape rule infers, inputs and parameters have unique
/// names, outputs and the loss name existing values, and the loss is a scalar f32.
///
///     %0 = input() {name="x"} : f32[B,4]
///     %1 = relu(%0) : f32[B,8]          // error: verify: relu %1: type f32[B,8] differs from
///                                       //        the inferred f32[B,4] (inputs: f32[B,4])
///
/// The `verify` pass runs it in a pipeline (and `--verify-each` after every pass); the
/// runtime runs it before executing a graph.
public enum Verifier {
    public static func check(_ g: Graph) throws {
        var names: [String: Value] = [:]
        for (i, node) in g.nodes.enumerated() {
            let v = Value(i)
            for input in node.inputs where input.id < 0 || input.id >= i {
                throw nodeError("verify", g, v, "input \(input) is not an earlier value")
            }
            do { try checkAttributes(of: node) } catch let e as AttributeError { throw nodeError("verify", g, v, e.message) }
            if node.isInterface {
                guard node.inputs.isEmpty else { throw nodeError("verify", g, v, "takes no inputs, got \(node.inputs.count)") }
                guard let name = node.name, !name.isEmpty else {
                    throw nodeError("verify", g, v, "needs a non-empty string attribute 'name'")
                }
                if let first = names[name] {
                    throw nodeError("verify", g, v, "name \"\(name)\" is already used by \(first)")
                }
                names[name] = v
                do {
                    try checkSize(node.type)
                    if try FeedReduction.of(node) != nil { try checkSize(node.fedType) }
                } catch let e as ShapeError { throw nodeError("verify", g, v, e.message) }
                continue
            }
            let types = node.inputs.map { g.nodes[$0.id].type }
            let inferred: TensorType
            do {
                inferred = try inferType(node.op, types, node.attributes)
            } catch let e as ShapeError {
                throw nodeError("verify", g, v, "\(e.message) \(describe(types))")
            }
            guard inferred == node.type else {
                throw nodeError("verify", g, v, "type \(node.type) differs from the inferred \(inferred) \(describe(types))")
            }
        }
        var outputNames = Set<String>()
        for o in g.outputs {
            guard o.value.id >= 0, o.value.id < g.nodes.count else {
                throw PassError(pass: "verify", "output \"\(o.name)\" refers to \(o.value), which is not in the graph")
            }
            guard outputNames.insert(o.name).inserted else {
                throw PassError(pass: "verify", "output name \"\(o.name)\" is used twice")
            }
        }
        if let l = g.loss {
            guard l.id >= 0, l.id < g.nodes.count else {
                throw PassError(pass: "verify", "the loss refers to \(l), which is not in the graph")
            }
            guard g.nodes[l.id].type == .f32([]) else {
                throw PassError(pass: "verify", "the loss \(l) must be a scalar f32[], got \(g.nodes[l.id].type)")
            }
        }
    }
}
