import GraphIR

/// `hoist`: computes time-step-independent work of an unrolled loop once. Under teacher
/// forcing every step t projects the embedding of column t of the same id matrix with the
/// same weight; those products become one product over the embeddings of all the columns
/// used, and each step selects its slice:
///
///     %s0 = select(%ids) {axis=1, index=0} : i64[B]
///     %e0 = embedding(%s0, %table) : f32[B,100]
///     %m0 = matmul(%e0, %w) {transpose_b=true} : f32[B,1024]
///     %a0 = add(%m0, %bias) : f32[B,1024]
///     ... the same for index 1, 2, ...
/// becomes
///     %cols = slice(%ids) {axis=1, start=0, end=21} : i64[B,21]
///     %all = embedding(%cols, %table) : f32[B,21,100]
///     %prod = matmul(%all, %w) {transpose_b=true} : f32[B,21,1024]
///     %proj = add(%prod, %bias) : f32[B,21,1024]
///     %a0 = select(%proj) {axis=1, index=0} : f32[B,1024]
///     ...
/// The bias add moves along when every step adds the same rank-1 bias to its product and
/// nothing else reads the product. When a step's input is `concat(embedding, rest)` along the
/// last axis (the attention decoder feeds [embedding, context] to its LSTM), the weight is
/// split by columns: the embedding's part is hoisted as above and each step adds
/// `matmul(rest, weight[:, E...])` to its slice. Steps whose embeddings other nodes read (the weight
/// gradient of a training graph) keep them; dce removes the rest. Runs after autodiff, so
/// the backward keeps its per-step products. Linear: one scan groups the candidates by
/// (ids, table, weight, attributes, axis).
extension Pass {
    public static let hoist = Pass(name: "hoist", summary: "compute per-step projections of teacher-forced embeddings as one product") { g, context in
        try Hoisting(g, context).run()
    }
}

struct Hoisting {
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

    struct Key: Hashable {
        let ids: Value, table: Value, weight: Value, axis: Int
        let attributes: Attributes
        /// Width of the embedding when it is the first part of a concatenated input.
        let split: Int?
    }

    /// One step's product: the matmul, the column it embeds, and its bias add if any.
    struct Member {
        let matmul: Int
        let index: Int
        let add: Int?
        let bias: Value?
        /// The rest of a concatenated input.
        let rest: Value?
    }

    func member(_ i: Int) -> (Key, Member)? {
        let m = g.nodes[i]
        guard m.op == .matmul, !(m.attributes[.transposeA] ?? false), g.type(of: m.inputs[1]).rank == 2 else { return nil }
        var e = g[m.inputs[0]]
        var split: Int?, rest: Value?
        if e.op == .concat {
            // concat(embedding, rest) along the last axis, against a [N, K] weight used
            // transposed, so the embedding's columns of the weight are a slice of its axis 1.
            let rank = e.type.rank
            guard m.attributes[.transposeB] == true, e.inputs.count == 2, rank == 2,
                  let axis = e.attributes[.axis], axis == 1 || axis == -1,
                  g[e.inputs[0]].op == .embedding, let width = g.type(of: e.inputs[0]).shape.dims.last?.value else { return nil }
            split = width
            rest = e.inputs[1]
            e = g[e.inputs[0]]
        }
        guard e.op == .embedding else { return nil }
        let s = g[e.inputs[0]]
        guard s.op == .select, let index = s.attributes[.index] else { return nil }
        let ids = s.inputs[0]
        let rank = g.type(of: ids).rank
        guard var axis = s.attributes[.axis] else { return nil }
        if axis < 0 { axis += rank }
        guard axis >= 0, axis < rank, g.type(of: ids).shape[axis].value != nil else { return nil }
        var add: Int?, bias: Value?
        // The bias add, when the product's single use is `add(product, bias)`.
        if uses[i] == 1, let a = reader[i], g.nodes[a].op == .add {
            let other = g.nodes[a].inputs.first { $0.id != i }
            if let b = other, g.nodes[a].inputs.contains(Value(i)), g.type(of: b).rank == 1, g.nodes[a].type == m.type {
                add = a; bias = b
            }
        }
        let key = Key(ids: ids, table: e.inputs[1], weight: m.inputs[1], axis: axis, attributes: m.attributes, split: split)
        return (key, Member(matmul: i, index: index, add: add, bias: bias, rest: rest))
    }

    func run() throws -> Graph {
        var groups: [Key: [Member]] = [:]
        var order: [Key] = []
        for i in g.nodes.indices {
            guard let (key, m) = member(i) else { continue }
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(m)
        }
        // What each node becomes: the first member hoists its group; members' results become
        // selects of the hoisted product.
        var hoistAt: [Int: Key] = [:]
        var selectFor: [Int: (Key, Int, Value?)] = [:]
        var dropped = Set<Int>()
        var withBias: [Key: Value] = [:]
        for key in order {
            guard let members = groups[key], members.count >= 2 else { continue }
            let first = members.map(\.matmul).min() ?? 0
            // The bias moves along only if every step adds the same one, defined before the
            // hoisted product.
            if let b = members.first?.bias, b.id < first, members.allSatisfy({ $0.bias == b && $0.add != nil }) { withBias[key] = b }
            hoistAt[first] = key
            context.count("products hoisted")
            context.count("steps sharing them", members.count)
            for m in members {
                if withBias[key] != nil, let a = m.add {
                    dropped.insert(m.matmul)
                    selectFor[a] = (key, m.index, m.rest)
                } else {
                    selectFor[m.matmul] = (key, m.index, m.rest)
                }
            }
        }
        guard !hoistAt.isEmpty else { return g }

        var r = GraphRewriter(g, pass: "hoist")
        var hoisted: [Key: (value: Value, low: Int, restWeight: Value?)] = [:]
        for v in g.values {
            let node = g.nodes[v.id]
            if let key = hoistAt[v.id], let members = groups[key] {
                let low = members.map(\.index).min() ?? 0, high = members.map(\.index).max() ?? 0
                let b = r.builder(for: node)
                do {
                    let cols = try b.emit(.slice, [try r.remap(key.ids, in: v)], ["axis": .int(key.axis), "start": .int(low), "end": .int(high + 1)])
                    let all = try b.emit(.embedding, [cols, try r.remap(key.table, in: v)])
                    var weight = try r.remap(key.weight, in: v), restWeight: Value?
                    if let width = key.split, let k = r.target.type(of: weight).shape.dims.last?.value {
                        restWeight = try b.emit(.slice, [weight], ["axis": .int(1), "start": .int(width), "end": .int(k)])
                        weight = try b.emit(.slice, [weight], ["axis": .int(1), "start": .int(0), "end": .int(width)])
                    }
                    var product = try b.emit(.matmul, [all, weight], key.attributes)
                    if let bias = withBias[key] { product = try b.emit(.add, [product, try r.remap(bias, in: v)]) }
                    hoisted[key] = (product, low, restWeight)
                } catch {
                    throw nodeError("hoist", g, v, "the hoisted product does not type-check: \(error)")
                }
            }
            if dropped.contains(v.id) { continue }
            if let (key, index, rest) = selectFor[v.id], let h = hoisted[key] {
                let b = r.builder(for: node)
                var s = try b.emit(.select, [h.value], ["axis": .int(key.axis), "index": .int(index - h.low)])
                if let rest, let restWeight = h.restWeight {
                    s = try b.emit(.add, [s, try b.emit(.matmul, [try r.remap(rest, in: v), restWeight], key.attributes)])
                }
                guard r.target.type(of: s) == node.type else {
                    throw nodeError("hoist", g, v, "the hoisted slice has type \(r.target.type(of: s)), not \(node.type)")
                }
                r.forward(v, to: s)
                continue
            }
            try r.copy(v)
        }
        return try r.finish()
    }
}
