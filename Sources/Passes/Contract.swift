import GraphIR

/// `contract`: a broadcast product summed over the broadcast axis is a batched matrix
/// product; as one it needs no [B, R, D] temporary, and autodiff then differentiates a
/// matmul instead of broadcasting the gradient back out. Attention's context vector is the
/// case: `sum(features * alpha, axis 1)`. Runs before autodiff (forward graphs).
///
///     %p = mul(%x, %a) : f32[B,256,512]          // x [B,256,512], a [B,256,1]
///     %c = sum(%p) {axes=[1], keepdims=false} : f32[B,512]
/// becomes
///     %m = matmul(%a, %x) {transpose_a=true} : f32[B,1,512]
///     %c = reshape(%m) {shape=shape[B,512]} : f32[B,512]
extension Pass {
    public static let contract = Pass(name: "contract", summary: "turn sums of broadcast products (attention contexts) into matrix products") { g, context in
        let uses = context.useCounts(g)
        var r = GraphRewriter(g, pass: "contract")
        var skip = Set<Int>()
        // Find the products first: a product is left out only when its sum is rewritten.
        var rewrites: [Int: (x: Value, a: Value)] = [:]
        for (i, node) in g.nodes.enumerated() where node.op == .sum {
            guard let (x, a) = contractionOperands(g, sum: node, uses: uses) else { continue }
            rewrites[i] = (x, a)
            skip.insert(node.inputs[0].id)
        }
        guard !rewrites.isEmpty else { return g }
        context.count("sums contracted", rewrites.count)
        for v in g.values {
            if skip.contains(v.id) { continue }
            guard let (x, a) = rewrites[v.id] else { try r.copy(v); continue }
            let node = g[v]
            let b = r.builder(for: node)
            do {
                var out = try b.emit(.matmul, [try r.remap(a, in: v), try r.remap(x, in: v)], ["transpose_a": .bool(true)])
                if b.type(of: out) != node.type { out = try b.emit(.reshape, [out], ["shape": .shape(node.type.shape)]) }
                guard b.type(of: out) == node.type else { throw PassError(pass: "contract", "type \(b.type(of: out))") }
                r.forward(v, to: out)
            } catch {
                throw nodeError("contract", g, v, "the matrix product does not replace the sum: \(error)")
            }
        }
        return try r.finish()
    }
}

/// For `sum(mul(x, a)) {axes=[rank-2]}` with x [..., R, D] and a [..., R, 1] (either order),
/// nothing else reading the product: (x, a).
func contractionOperands(_ g: Graph, sum: Node, uses: [Int]) -> (Value, Value)? {
    let p = sum.inputs[0]
    let product = g[p]
    guard product.op == .mul, uses[p.id] == 1, let axes = sum.attributes[.axes], axes.count == 1 else { return nil }
    let rank = product.type.rank
    guard rank >= 3, axes[0] == rank - 2 || axes[0] == -2 else { return nil }
    for (xi, ai) in [(0, 1), (1, 0)] {
        let x = product.inputs[xi], a = product.inputs[ai]
        let xs = g.type(of: x).shape.dims, as_ = g.type(of: a).shape.dims
        guard g.type(of: x) == product.type, as_.count == rank, as_.last == .known(1),
              Array(as_.dropLast()) == Array(xs.dropLast()) else { continue }
        return (x, a)
    }
    return nil
}
