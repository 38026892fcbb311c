import GraphIR

/// Reverse-mode differentiation, graph to graph.
public enum Autodiff {
    /// A parameter the optimiser updates: not frozen (`trainable=false`) and not state
    /// such as BatchNorm's running statistics (`buffer=true`).
    public static func isTrainable(_ n: Node) -> Bool {
        n.op == .param && n.attributes[.trainable] != false && n.attributes[.buffer] != true
    }

    /// Returns a new graph holding the forward graph unchanged (outputs and loss included)
    /// followed by the backward nodes, with one output `GradientOutput.name(forParameter:)`
    /// (`grad:<name>`) per trainable parameter
    /// the loss depends on. Linear in the size of the graph: one forward sweep marks values
    /// that depend on a trainable parameter, one backward sweep marks those the loss also
    /// depends on, and one more backward sweep applies each node's gradient rule once,
    /// accumulating the gradients of values used several times with `add`.
    public static func differentiate(_ g: Graph) throws -> Graph {
        guard let loss = g.loss else { throw PassError(pass: "autodiff", "graph @\(g.name) has no loss to differentiate") }
        guard loss.id >= 0 && loss.id < g.nodes.count else {
            throw PassError(pass: "autodiff", "graph @\(g.name): the loss \(loss) is not a value of the graph")
        }
        let lossNode = g[loss]
        guard lossNode.type == .f32([]) else {
            throw nodeError("autodiff", g, loss, "the loss must be a scalar f32, not \(lossNode.type)")
        }
        if let o = g.gradientOutputs.first {
            throw PassError(pass: "autodiff", "graph @\(g.name) already has gradient output \"\(o.name)\": it was differentiated before")
        }

        let onPath = valuesBetweenParametersAndLoss(g, loss: loss)
        let builder = GraphBuilder(copying: g)
        var grads = [Value?](repeating: nil, count: g.nodes.count)
        if onPath[loss.id] {
            builder.location = lossNode.location
            builder.scope = gradientScope(lossNode.scope)
            grads[loss.id] = try builder.scalar(1)
        }

        for i in stride(from: loss.id, through: 0, by: -1) {
            guard onPath[i], let dy = grads[i] else { continue }
            let node = g.nodes[i]
            if node.inputs.isEmpty { continue }
            guard let rule = node.op.gradient else {
                throw nodeError("autodiff", g, Value(i), "no gradient rule, and the loss depends on a trainable parameter through it")
            }
            builder.location = node.location
            builder.scope = gradientScope(node.scope)
            let needed = node.inputs.map { onPath[$0.id] }
            let context = GradientContext(builder: builder, node: node, result: Value(i), gradient: dy, needed: needed)
            let inputGrads: [Value?]
            do {
                inputGrads = try rule(context)
            } catch let e as BuildError {
                throw nodeError("autodiff", g, Value(i), "its gradient could not be built: \(e)")
            }
            guard inputGrads.count == node.inputs.count else {
                throw nodeError("autodiff", g, Value(i), "the gradient rule returned \(inputGrads.count) gradients for \(node.inputs.count) inputs")
            }
            for (k, v) in node.inputs.enumerated() where needed[k] {
                guard let dv = inputGrads[k] else { continue }
                guard builder.type(of: dv) == g.type(of: v) else {
                    throw nodeError("autodiff", g, Value(i), "the gradient rule gave \(builder.type(of: dv)) for input \(k) of type \(g.type(of: v))")
                }
                if let previous = grads[v.id] {
                    grads[v.id] = try builder.emit(.add, [previous, dv])
                } else {
                    grads[v.id] = dv
                }
            }
        }

        var seen = Set<String>()
        for p in g.parameters where onPath[p.id] {
            guard let d = grads[p.id] else { continue }
            let name = GradientOutput.name(forParameter: g[p].name ?? "\(p)")
            guard seen.insert(name).inserted else {
                throw nodeError("autodiff", g, p, "another parameter is also named \"\(g[p].name ?? "")\"; their gradients would share an output")
            }
            builder.outputs.append((name, d))
        }
        return builder.finish()
    }

    /// Values that depend on a trainable parameter through f32 values and that the loss
    /// depends on: exactly the values whose gradient is needed. Integer values (ids, argmax)
    /// never carry a gradient, which keeps greedy decoding and labels off the path.
    static func valuesBetweenParametersAndLoss(_ g: Graph, loss: Value) -> [Bool] {
        var fromParameter = [Bool](repeating: false, count: g.nodes.count)
        for (i, n) in g.nodes.enumerated() where n.type.dtype == .f32 {
            fromParameter[i] = isTrainable(n) || n.inputs.contains { fromParameter[$0.id] }
        }
        var onPath = [Bool](repeating: false, count: g.nodes.count)
        onPath[loss.id] = fromParameter[loss.id]
        for i in stride(from: loss.id, through: 0, by: -1) where onPath[i] {
            for v in g.nodes[i].inputs where fromParameter[v.id] { onPath[v.id] = true }
        }
        return onPath
    }

    /// Whether `g` already has its gradients: false when it has no gradient output; true when
    /// every trainable parameter the loss depends on has one and every gradient output
    /// belongs to such a parameter (a graph dumped after autodiff); otherwise an error at
    /// the parameter or output that does not fit.
    public static func isDifferentiated(_ g: Graph) throws -> Bool {
        let gradients = g.gradientOutputs
        guard !gradients.isEmpty else { return false }
        guard let loss = g.loss, loss.id >= 0, loss.id < g.nodes.count else {
            throw PassError(pass: "autodiff", "graph @\(g.name) has gradient output \"\(gradients[0].name)\" but no loss")
        }
        let onPath = valuesBetweenParametersAndLoss(g, loss: loss)
        var expected: [String: Value] = [:]
        for p in g.parameters where onPath[p.id] { expected[GradientOutput.name(forParameter: g[p].name ?? "\(p)")] = p }
        var found = Set<String>()
        for o in gradients {
            guard expected[o.name] != nil else {
                throw PassError(pass: "autodiff", "graph @\(g.name): gradient output \"\(o.name)\" names no trainable parameter the loss depends on")
            }
            found.insert(o.name)
        }
        if let (_, p) = expected.filter({ !found.contains($0.key) }).min(by: { $0.value < $1.value }) {
            throw nodeError("autodiff", g, p, "the graph already has gradient outputs (\"\(gradients[0].name)\", ...) but none for this trainable parameter")
        }
        return true
    }

    static func gradientScope(_ scope: String) -> String { scope.isEmpty ? "grad" : scope + "/grad" }
}
