import GraphIR

/// `stack-products`: the steps' outputs of an unrolled loop, each a product with the same
/// weight (the decoder's vocabulary projection `fc(h_t)`), stacked into one tensor, are one
/// product of the stacked inputs: one GEMM with steps x batch rows instead of one thin GEMM
/// per step, and, when it runs before autodiff, one product for the inputs' gradients and
/// one for the weight's.
///
///     %y0 = matmul(%x0, %w) {transpose_b=true} : f32[B,190]
///     %s0 = add(%y0, %b) : f32[B,190]
///     %y1 = matmul(%x1, %w) {transpose_b=true} : f32[B,190]
///     %s1 = add(%y1, %b) : f32[B,190]
///     %all = stack(%s0, %s1) {axis=1} : f32[B,2,190]
/// becomes
///     %xs = stack(%x0, %x1) {axis=1} : f32[B,2,256]
///     %p = matmul(%xs, %w) {transpose_b=true} : f32[B,2,190]
///     %all = add(%p, %b) : f32[B,2,190]
/// Each stacked value must be read by the stack alone, its product too; the weight is 2-D
/// and the left operand not transposed, the bias (if any) the same rank-1 value for every
/// step, and the stack axis not the contraction axis. Linear: one look at each stack's
/// operands.
extension Pass {
    public static let stackProducts = Pass(name: "stack-products", summary: "stacked per-step products with one weight as one product of the stacked inputs") { g, context in
        try StackProducts(g, context).run()
    }
}

struct StackProducts: UseCountedPass {
    let g: Graph
    let uses: [Int]
    let context: PassContext

    /// A stacked operand: its product's left input, the weight, the product's attributes
    /// and the bias it adds.
    struct Term: Equatable {
        let x: Value
        let weight: Value
        let attributes: Attributes
        let bias: Value?
        static func == (l: Term, r: Term) -> Bool { l.weight == r.weight && l.attributes == r.attributes && l.bias == r.bias }
    }

    func term(_ v: Value) -> Term? {
        guard uses[v.id] == 1 else { return nil }
        var node = g[v]
        var bias: Value?
        if node.op == .add {
            let ops = node.inputs
            guard ops.count == 2 else { return nil }
            let k = g[ops[0]].op == .matmul ? 0 : 1
            let b = ops[1 - k]
            guard g[ops[k]].op == .matmul, uses[ops[k].id] == 1, g.type(of: b).rank == 1, g.type(of: ops[k]) == node.type else { return nil }
            bias = b
            node = g[ops[k]]
        }
        guard node.op == .matmul, node.attributes[.transposeA] != true, g.type(of: node.inputs[1]).rank == 2,
              g.type(of: node.inputs[0]).rank >= 2 else { return nil }
        return Term(x: node.inputs[0], weight: node.inputs[1], attributes: node.attributes, bias: bias)
    }

    /// For a stack of such terms: the terms and the stack axis (non-negative).
    func candidate(_ node: Node) -> ([Term], Int)? {
        guard node.op == .stack, node.inputs.count >= 2, let raw = node.attributes[.axis] else { return nil }
        let axis = raw < 0 ? raw + node.type.rank : raw
        var terms: [Term] = []
        for v in node.inputs {
            guard let t = term(v), terms.first.map({ $0 == t }) ?? true, g.type(of: t.x) == g.type(of: terms.first?.x ?? t.x) else { return nil }
            terms.append(t)
        }
        // The inputs' last axis is contracted: the new axis must come before it.
        guard let first = terms.first, axis >= 0, axis < g.type(of: first.x).rank else { return nil }
        return (terms, axis)
    }

    func run() throws -> Graph {
        var plans: [Int: ([Term], Int)] = [:]
        for (i, node) in g.nodes.enumerated() { if let c = candidate(node) { plans[i] = c } }
        guard !plans.isEmpty else { return g }
        context.count("stacks of products", plans.count)
        var r = GraphRewriter(g, pass: "stack-products")
        for v in g.values {
            guard let (terms, axis) = plans[v.id], let first = terms.first else { try r.copy(v); continue }
            let node = g[v]
            let b = r.builder(for: node)
            do {
                let xs = try b.emit(.stack, try terms.map { try r.remap($0.x, in: v) }, ["axis": .int(axis)])
                var out = try b.emit(.matmul, [xs, try r.remap(first.weight, in: v)], first.attributes)
                if let bias = first.bias { out = try b.emit(.add, [out, try r.remap(bias, in: v)]) }
                guard r.target.type(of: out) == node.type else { throw PassError(pass: "stack-products", "type \(r.target.type(of: out))") }
                r.forward(v, to: out)
            } catch {
                throw nodeError("stack-products", g, v, "the stacked product does not replace the stack: \(error)")
            }
        }
        return try r.finish()
    }
}
