import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Gather.swift. The executor has checked the
// indices against the axis (`IndexOperand`).

extension GatherOp: KernelOp {
    public static func kernel(_ c: KernelContext) { gatherSlices(x: c.inputs[0], indices: c.inputs[1], y: c.output, c.attributes, backward: false) }
}

extension GatherGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { gatherSlices(x: c.output, indices: c.inputs[1], y: c.inputs[0], c.attributes, backward: true) }
}

/// x viewed as [outer, n, inner], y as [outer, k, inner] for k indices: forward copies slice
/// indices[j] of x to slice j of y; backward zeroes x and adds slice j of y to slice indices[j].
private func gatherSlices(x: TensorView, indices: TensorView, y: TensorView, _ attributes: Attributes, backward: Bool) {
    let rank = x.shape.count
    let a = attributes[.axis] ?? 0
    let axis = a < 0 ? a + rank : a
    guard axis >= 0 && axis < rank else { return }
    let outer = x.shape[..<axis].reduce(1, *), n = x.shape[axis], inner = x.shape[(axis + 1)...].reduce(1, *)
    let k = indices.count
    if backward { fill(x.f32, x.count, 0) }
    for o in 0..<outer {
        for j in 0..<k {
            let i = Int(indices.i64[j])
            let src = x.f32 + (o * n + i) * inner, dst = y.f32 + (o * k + j) * inner
            if backward {
                for e in 0..<inner { src[e] += dst[e] }
            } else {
                dst.update(from: src, count: inner)
            }
        }
    }
}
