import GraphIR

/// `constant-folding`: evaluates ops whose inputs are all scalar constants, and removes
/// algebraic identities. Every rewrite gives exactly the values the runtime would compute:
/// folding happens in f32 like the kernels, and an identity only forwards a value whose type
/// equals the node's (so broadcasting is never lost).
///
///     %0 = input() {name="x"} : f32[B,4]
///     %1 = constant() {value=2.0} : f32[]
///     %2 = constant() {value=0.5} : f32[]
///     %3 = mul(%1, %2) : f32[]
///     %4 = mul(%0, %3) : f32[B,4]
///     %5 = transpose(%4) {perm=[1,0]} : f32[4,B]
///     %6 = transpose(%5) {perm=[1,0]} : f32[B,4]
///     output "y" = %6
/// becomes (the constants left dead are for `dce`)
///     %0 = input() {name="x"} : f32[B,4]
///     %1 = constant() {value=2.0} : f32[]
///     %2 = constant() {value=0.5} : f32[]
///     %3 = constant() {value=1.0} : f32[]
///     output "y" = %0
///
/// Identities: `x*1`, `1*x`, `x/1`, `x+0`, `0+x`, `x-0` (for `x+0` the one difference: a `-0`
/// stays `-0` where the addition would give `+0`; the two compare equal), `scale{factor=1}`, `neg(neg(x))`, a reshape,
/// reshape_like, broadcast_like, reduce_like, slice or concat that leaves the type unchanged,
/// sum/mean over no axes, an identity transpose, `reshape(reshape(x))` -> one reshape, and
/// `transpose(transpose(x))` -> one transpose (or `x` when the permutations cancel).
/// Not folded: anything else, e.g. `x*2` or `x+x`.
extension Pass {
    public static let constantFolding = Pass(name: "constant-folding", summary: "evaluate scalar-constant ops and remove exact algebraic identities") { g, context in
        var r = GraphRewriter(g, pass: "constant-folding")
        for v in g.values {
            var node = g[v]
            node.inputs = try r.remapInputs(of: v)
            switch Folder(graph: r.target).simplify(node) {
            case .forward(let x):
                r.forward(v, to: x)
                context.count("identities removed")
            case .replace(let op, let inputs, let attributes):
                // A rewrite must keep the node's type; if the rule disagrees, keep the node.
                let types = inputs.map { r.target.type(of: $0) }
                if let t = try? inferType(op, types, attributes), t == node.type {
                    context.count("nodes folded")
                    r.emit(Node(op: op, inputs: inputs, attributes: attributes, type: t, location: node.location, scope: node.scope), for: v)
                } else {
                    r.emit(node, for: v)
                }
            case nil:
                r.emit(node, for: v)
            }
        }
        return try r.finish()
    }
}

enum Simplification {
    /// The node's value is this existing value.
    case forward(Value)
    /// The node becomes this op (same type, location and scope).
    case replace(OpDef, [Value], Attributes)
}

/// Looks at one node, whose inputs are already in the rewritten graph.
struct Folder {
    /// The rewritten graph so far.
    let graph: GraphBuilder

    func simplify(_ node: Node) -> Simplification? {
        if let folded = foldScalar(node) { return .replace(.constant, [], ["value": .float(Double(folded))]) }
        return identity(node)
    }

    /// The f32 value of a scalar constant.
    func constant(_ v: Value) -> Float? {
        let n = graph[v]
        guard n.op == .constant, n.type == .f32([]), let d = n.attributes[.value] else { return nil }
        return Float(d)
    }

    /// Evaluates an elementwise op on scalar constants through its scalar function, the one
    /// the f32 kernels compute.
    func foldScalar(_ node: Node) -> Float? {
        guard !node.inputs.isEmpty, node.type == .f32([]) else { return nil }
        var xs: [Float] = []
        for i in node.inputs {
            guard let c = constant(i) else { return nil }
            xs.append(c)
        }
        guard let f = node.op.scalarFunction, xs.count == f.operandCount, let k = f.constants(from: node.attributes) else { return nil }
        return f(xs, k)
    }

    func identity(_ node: Node) -> Simplification? {
        let ins = node.inputs
        /// `x` when it has exactly the node's type.
        func keep(_ x: Value) -> Simplification? { graph.type(of: x) == node.type ? .forward(x) : nil }
        func isConstant(_ v: Value, _ c: Float) -> Bool {
            guard let k = constant(v) else { return false }
            return k == c
        }
        let a = node.attributes
        switch node.op {
        case .mul:
            if ins.count == 2, isConstant(ins[1], 1) { return keep(ins[0]) }
            if ins.count == 2, isConstant(ins[0], 1) { return keep(ins[1]) }
        case .div:
            if ins.count == 2, isConstant(ins[1], 1) { return keep(ins[0]) }
        case .add:
            if ins.count == 2, isConstant(ins[1], 0) { return keep(ins[0]) }
            if ins.count == 2, isConstant(ins[0], 0) { return keep(ins[1]) }
        case .sub:
            if ins.count == 2, isConstant(ins[1], 0) { return keep(ins[0]) }
        case .scale:
            if ins.count == 1, a.float("factor") == 1 { return keep(ins[0]) }
        case .neg:
            if ins.count == 1, graph[ins[0]].op == .neg, let inner = graph[ins[0]].inputs.first { return keep(inner) }
        case .reshape:
            guard ins.count == 1 else { return nil }
            if let same = keep(ins[0]) { return same }
            let inner = graph[ins[0]]
            if inner.op == .reshape, inner.inputs.count == 1 {
                return keep(inner.inputs[0]) ?? .replace(.reshape, inner.inputs, a)
            }
        case .reshapeLike, .broadcastLike, .reduceLike, .slice, .concat:
            if ins.count == (node.op == .slice || node.op == .concat ? 1 : 2) { return keep(ins[0]) }
        case .sum, .mean:
            if ins.count == 1, a.ints("axes") == [] { return keep(ins[0]) }
        case .transpose:
            guard ins.count == 1, let perm = a.ints("perm") else { return nil }
            if perm == Array(perm.indices) { return keep(ins[0]) }
            let inner = graph[ins[0]]
            guard inner.op == .transpose, inner.inputs.count == 1, let p1 = inner.attributes[.perm],
                  p1.count == perm.count, perm.allSatisfy({ $0 >= 0 && $0 < p1.count }) else { return nil }
            // Output axis i of the outer is axis perm[i] of the inner, i.e. axis p1[perm[i]] of x.
            let composed = perm.map { p1[$0] }
            if composed == Array(composed.indices) { return keep(inner.inputs[0]) }
            var attrs = a
            attrs["perm"] = .ints(composed)
            return .replace(.transpose, inner.inputs, attrs)
        default:
            break
        }
        return nil
    }
}
