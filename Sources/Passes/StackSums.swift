import GraphIR

/// `stack-sums`: the gradient of a weight shared by the steps of an unrolled loop is a sum
/// of one term per step (autodiff's chain of adds). Terms of the same kind are computed as
/// one op over their stacked operands, which writes one weight-sized result instead of one
/// per step plus an add per step:
/// - matmul(a_t, b_t) {transpose_a} (2-D: a weight's gradient dyᵀ x) and
///   contract_rows(a_t, b_t) (the same over batched rows) ->
///   `contract_rows(stack(a_t), stack(b_t))`, one GEMM with K = steps x rows;
/// - reduce_like(x_t, p) (a bias's gradient) -> reduce_like(stack(x_t), p);
/// - embedding_grad(dy_t, ids_t, w) -> embedding_grad(stack(dy_t), stack(ids_t), w).
/// A term qualifies only if the sum is its one use and its operands are smaller than its
/// result (stacking copies them). Stacked operands that are themselves per-step products
/// with one weight become one product of their stacked operands. Other terms are added to
/// the result as before. Runs after autodiff.
///
///     %5 = matmul(%1, %2) {transpose_a=true} : f32[1024,256]
///     %6 = matmul(%3, %4) {transpose_a=true} : f32[1024,256]
///     %7 = add(%5, %6) : f32[1024,256]
/// becomes
///     %5 = stack(%1, %3) {axis=0} : f32[2,B,1024]
///     %6 = stack(%2, %4) {axis=0} : f32[2,B,256]
///     %7 = contract_rows(%5, %6) : f32[1024,256]
/// Linear: each add belongs to one sum tree, each term to one group; stacks of the same
/// operands are made once and shared (a weight's and its bias's sums stack the same
/// per-step gradients).
extension Pass {
    public static let stackSums = Pass(name: "stack-sums", summary: "sum per-step weight-gradient terms as one op over stacked operands") { g, context in
        try StackSums(g, context).run()
    }
}

struct StackSums {
    let g: Graph
    let uses: [Int]
    /// The last node reading each value (its only reader when `uses` is 1).
    let reader: [Int?]

    let context: PassContext

    init(_ g: Graph, _ context: PassContext) {
        self.g = g
        self.context = context
        uses = context.useCounts(g)
        reader = context.lastReaders(g)
    }

    /// An add read only by another add of its type: an inner node of that add's sum tree.
    func isInner(_ i: Int) -> Bool {
        guard g.nodes[i].op == .add, uses[i] == 1, let r = reader[i] else { return false }
        return g.nodes[r].op == .add && g.nodes[r].type == g.nodes[i].type
    }

    /// Terms with equal keys are stacked together.
    enum Kind: Hashable {
        case product(a: TensorType, b: TensorType)
        case reduction(x: TensorType, target: Value)
        case scatter(dy: TensorType, ids: TensorType, table: Value)
    }

    func kind(_ i: Int) -> Kind? {
        let node = g.nodes[i]
        guard uses[i] == 1 else { return nil }
        let result = elements(node.type)
        switch node.op {
        case .matmul, .contractRows:
            let a = g.type(of: node.inputs[0]), b = g.type(of: node.inputs[1])
            if node.op == .matmul {
                guard node.attributes[.transposeA] == true, node.attributes[.transposeB] != true,
                      a.rank == 2, b.rank == 2 else { return nil }
            }
            // Stacking copies the operands: worth it when they are smaller than the result
            // each step would write (a weight's gradient at a small batch), not for a small
            // weight against large activations (attention's [B, 256, 100] scores layer).
            guard elements(a) + elements(b) < result else { return nil }
            return .product(a: a, b: b)
        case .reduceLike:
            let x = g.type(of: node.inputs[0])
            guard elements(x) <= 4 * result else { return nil }
            return .reduction(x: x, target: node.inputs[1])
        case .embeddingGrad:
            let dy = g.type(of: node.inputs[0])
            guard elements(dy) < result else { return nil }
            return .scatter(dy: dy, ids: g.type(of: node.inputs[1]), table: node.inputs[2])
        default:
            return nil
        }
    }

    /// Elements of a type, each symbolic dimension (the batch) counted as 1: sizes compared
    /// per example.
    func elements(_ t: TensorType) -> Int {
        t.shape.dims.reduce(1) { n, d in n.multipliedReportingOverflow(by: d.value ?? 1).partialValue }
    }

    /// When every value is `matmul(y_t, w)` with the same 2-D w and flags (left operand not
    /// transposed) read by nothing else (the embedding gradient's per-step dy = dGates
    /// W_ih), the stack of the values is the product of the stacked y_t: (y_t, w, flags).
    func sharedProducts(_ values: [Value]) -> ([Value], Value, Attributes)? {
        guard let first = values.first.map({ g[$0] }), first.op == .matmul, first.attributes[.transposeA] != true,
              g.type(of: first.inputs[1]).rank == 2 else { return nil }
        var ys: [Value] = []
        for v in values {
            let n = g[v]
            guard n.op == .matmul, uses[v.id] == 1, n.inputs[1] == first.inputs[1], n.attributes == first.attributes,
                  g.type(of: n.inputs[0]) == g.type(of: first.inputs[0]) else { return nil }
            ys.append(n.inputs[0])
        }
        return (ys, first.inputs[1], first.attributes)
    }

    /// The terms of the sum tree rooted at `root`, in node order.
    func terms(_ root: Int) -> [Int] {
        var out: [Int] = [], stack = [root]
        while let i = stack.popLast() {
            for v in g.nodes[i].inputs {
                if v.id != root, isInner(v.id), reader[v.id] == i { stack.append(v.id) } else { out.append(v.id) }
            }
        }
        return out.sorted()
    }

    func run() throws -> Graph {
        // Roots whose trees have a group of two or more terms of one kind.
        var plans: [Int: [[Int]]] = [:]
        var dropped = Set<Int>()
        for (i, node) in g.nodes.enumerated() where node.op == .add && !isInner(i) {
            let leaves = terms(i)
            var groups: [Kind: [Int]] = [:], order: [Kind] = []
            for t in leaves {
                guard let k = kind(t) else { continue }
                if groups[k] == nil { order.append(k) }
                groups[k, default: []].append(t)
            }
            let stacked = order.compactMap { groups[$0] }.filter { $0.count >= 2 }
            guard !stacked.isEmpty else { continue }
            let grouped = Set(stacked.joined())
            // The plan: each stacked group, then each remaining term on its own.
            plans[i] = stacked + leaves.filter { !grouped.contains($0) }.map { [$0] }
            context.count("sums stacked")
            context.count("terms stacked", grouped.count)
            dropped.formUnion(grouped)
            var inner = [i]
            while let n = inner.popLast() {
                for v in g.nodes[n].inputs where isInner(v.id) && reader[v.id] == n { dropped.insert(v.id); inner.append(v.id) }
            }
        }
        guard !plans.isEmpty else { return g }

        var r = GraphRewriter(g, pass: "stack-sums")
        var stacks: [[Value]: Value] = [:]
        for v in g.values {
            if dropped.contains(v.id) { continue }
            guard let plan = plans[v.id] else { try r.copy(v); continue }
            let node = g[v]
            let b = r.builder(for: node)
            func stack(_ old: [Value]) throws -> Value {
                let values = try old.map { try r.remap($0, in: v) }
                if let s = stacks[values] { return s }
                let s = try b.emit(.stack, values, ["axis": .int(0)])
                stacks[values] = s
                return s
            }
            func stacked(_ members: [Int], input k: Int) throws -> Value {
                let old = members.map { g.nodes[$0].inputs[k] }
                // Per-step products with one weight: one product of the stacked operands
                // (the per-step products are left to dce).
                if let (ys, w, attrs) = sharedProducts(old) { return try b.emit(.matmul, [try stack(ys), try r.remap(w, in: v)], attrs) }
                return try stack(old)
            }
            do {
                var sum: Value?
                for members in plan {
                    let term: Value
                    if members.count == 1, let only = members.first {
                        term = try r.remap(Value(only), in: v)
                    } else {
                        let first = g.nodes[members[0]]
                        switch first.op {
                        case .matmul, .contractRows:
                            term = try b.emit(.contractRows, [try stacked(members, input: 0), try stacked(members, input: 1)])
                        case .reduceLike:
                            term = try b.emit(.reduceLike, [try stacked(members, input: 0), try r.remap(first.inputs[1], in: v)])
                        default:
                            term = try b.emit(.embeddingGrad, [try stacked(members, input: 0), try stacked(members, input: 1),
                                                               try r.remap(first.inputs[2], in: v)])
                        }
                    }
                    sum = try sum.map { try b.emit(.add, [$0, term]) } ?? term
                }
                guard let s = sum, r.target.type(of: s) == node.type else {
                    throw PassError(pass: "stack-sums", "the stacked sum does not have the type \(node.type)")
                }
                r.forward(v, to: s)
            } catch {
                throw nodeError("stack-sums", g, v, "the stacked sum does not type-check: \(error)")
            }
        }
        return try r.finish()
    }
}
