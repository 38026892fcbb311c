import GraphIR

/// `slice-products`: a product read only through slices of its last axis is one product per
/// slice, each with the weight's matching columns (rows when the weight is used transposed).
/// The attention decoder's backward multiplies each step's gate gradient by the whole input
/// weight [1024, 612] and splits the result into the embedding's gradient and the context's;
/// only the context's feeds the recurrence. Split, each step multiplies by the context's
/// columns alone, and `stack-products` (run after this pass) makes the embedding's part one
/// product over the stacked steps:
///
///     %m0 = matmul(%d0, %w) : f32[B,612]
///     %e0 = slice(%m0) {axis=1, start=0, end=100} : f32[B,100]
///     %c0 = slice(%m0) {axis=1, start=100, end=612} : f32[B,512]
///     ... the same for each step
///     %es = stack(%e0, %e1, ...) {axis=0} : f32[T,B,100]
/// becomes
///     %we = slice(%w) {axis=1, start=0, end=100} : f32[1024,100]
///     %wc = slice(%w) {axis=1, start=100, end=612} : f32[1024,512]
///     %e0 = matmul(%d0, %we) : f32[B,100]
///     %c0 = matmul(%d0, %wc) : f32[B,512]
///     ...
///     %es = stack(%e0, %e1, ...) {axis=0} : f32[T,B,100]
/// and after `stack-products` `%es = matmul(stack(%d0, %d1, ...), %we)`. The weight's slices
/// are made once per weight and range (an existing slice of it, e.g. `hoist`'s of the
/// forward's weight, is reused). Only products whose weight at least two such products share
/// are split (a loop's steps: a lone product gains nothing from being cut). The left operand
/// must not be transposed and the weight 2-D. `FusionKind.sliceProducts`
/// turns it off. Linear: one look at each matmul's users.
extension Pass {
    public static let sliceProducts = Pass(name: "slice-products", summary: "products read only through slices of their columns as one product per slice") { g, context in
        if context.options.disabledFusions.contains(.sliceProducts) { return g }
        return try SliceProducts(g, context).run()
    }
}

struct SliceProducts {
    let g: Graph
    let users: [[Int]]
    let uses: [Int]
    let context: PassContext

    init(_ g: Graph, _ context: PassContext) {
        self.g = g
        self.context = context
        users = context.users(g)
        uses = context.useCounts(g)
    }

    /// A weight's slice: the weight, its axis and range.
    struct WeightSlice: Hashable {
        let weight: Value, axis: Int, start: Int, end: Int
    }

    /// For a slice node reading a splittable product: the slice of the product's weight it needs.
    func weightSlice(of slice: Node, product: Node) -> WeightSlice? {
        let rank = slice.type.rank
        guard slice.op == .slice, var axis = slice.attributes[.axis], let start = slice.attributes[.start],
              let end = slice.attributes[.end] else { return nil }
        if axis < 0 { axis += rank }
        guard axis == rank - 1, start >= 0, start < end, let width = product.type.shape.dims.last?.value, end <= width else { return nil }
        let transposed = product.attributes[.transposeB] == true
        return WeightSlice(weight: product.inputs[1], axis: transposed ? 0 : 1, start: start, end: end)
    }

    /// For a product read only through slices of its last axis: its slices' node ids and ranges.
    func plan(_ i: Int) -> [(Int, WeightSlice)]? {
        let m = g.nodes[i]
        guard m.op == .matmul, m.inputs.count == 2, m.attributes[.transposeA] != true,
              g.type(of: m.inputs[1]).rank == 2, m.type.dtype == .f32,
              !users[i].isEmpty, users[i].count == uses[i] else { return nil }
        var slices: [(Int, WeightSlice)] = []
        for u in users[i] {
            guard let s = weightSlice(of: g.nodes[u], product: m), g.nodes[u].inputs.count == 1 else { return nil }
            slices.append((u, s))
        }
        return slices
    }

    func run() throws -> Graph {
        var plans: [Int: [(Int, WeightSlice)]] = [:]
        var perWeight: [Value: Int] = [:]
        for i in g.nodes.indices {
            guard let p = plan(i) else { continue }
            plans[i] = p
            perWeight[g.nodes[i].inputs[1], default: 0] += 1
        }
        plans = plans.filter { perWeight[g.nodes[$0.key].inputs[1], default: 0] >= 2 }
        guard !plans.isEmpty else { return g }
        context.count(FusionKind.sliceProducts.counter, plans.count)
        // Slice node id -> (its product, the weight slice it becomes a product with).
        var replaced: [Int: (Int, WeightSlice)] = [:]
        for (m, slices) in plans { for (s, w) in slices { replaced[s] = (m, w) } }

        var r = GraphRewriter(g, pass: "slice-products")
        var weightSlices: [WeightSlice: Value] = [:]
        for v in g.values {
            let node = g.nodes[v.id]
            if plans[v.id] != nil { continue }  // its slices become products of their own
            guard let (m, ws) = replaced[v.id] else {
                let new = try r.copy(v)
                // An existing slice of a weight (the forward's, made by `hoist`) is reused.
                if node.op == .slice, let axis = node.attributes[.axis], axis >= 0, let start = node.attributes[.start],
                   let end = node.attributes[.end] {
                    let key = WeightSlice(weight: node.inputs[0], axis: axis, start: start, end: end)
                    if weightSlices[key] == nil { weightSlices[key] = new }
                }
                continue
            }
            let product = g.nodes[m]
            let b = r.builder(for: node)
            do {
                let weight: Value
                if let w = weightSlices[ws] {
                    weight = w
                } else {
                    weight = try b.emit(.slice, [try r.remap(ws.weight, in: v)],
                                        ["axis": .int(ws.axis), "start": .int(ws.start), "end": .int(ws.end)])
                    weightSlices[ws] = weight
                }
                let out = try b.emit(.matmul, [try r.remap(product.inputs[0], in: v), weight], product.attributes)
                guard r.target.type(of: out) == node.type else { throw PassError(pass: "slice-products", "type \(r.target.type(of: out))") }
                r.forward(v, to: out)
            } catch {
                throw nodeError("slice-products", g, v, "the product of the weight's slice does not replace the slice: \(error)")
            }
        }
        return try r.finish()
    }
}
