// Reductions over axes, and the broadcasts that undo them in gradients.

/// `{axes, keepdims}`: the reduced shape.
private let reduceAxes: ShapeRule = { q in
    try q.requireFloat(0)
    let s = q.input(0).shape
    let raw = try q.ints("axes")
    var axes = Set<Int>()
    for a in raw {
        let n = a < 0 ? a + s.rank : a
        guard n >= 0 && n < s.rank else { throw ShapeError("axis \(a) is out of range for \(q.input(0))") }
        axes.insert(n)
    }
    let keep = q.attributes.bool("keepdims") ?? false
    var dims: [Dim] = []
    for (i, d) in s.dims.enumerated() {
        if axes.contains(i) { if keep { dims.append(.known(1)) } } else { dims.append(d) }
    }
    return .f32(Shape(dims))
}

extension OpDef {
    public static let sum = OpDef("sum", arity: .exactly(1), fusion: .reduction, shape: reduceAxes)
    public static let mean = OpDef("mean", arity: .exactly(1), fusion: .reduction, shape: reduceAxes)

    /// `reduce_like(x, ref)`: sums `x` down to `ref`'s shape over the axes broadcasting
    /// stretched. The gradient of a broadcasting binary op.
    public static let reduceLike = OpDef("reduce_like", arity: .exactly(2), fusion: .reduction, shape: { q in
        try q.requireFloat(0)
        let target = q.input(1).shape
        guard try broadcastShapes(q.input(0).shape, target) == q.input(0).shape else {
            throw ShapeError("\(q.input(0)) does not reduce to \(target)")
        }
        return .f32(target)
    })

    /// `broadcast_like(x, ref)`: stretches `x` to `ref`'s shape (numpy rules).
    public static let broadcastLike = OpDef("broadcast_like", arity: .exactly(2), fusion: .injective, shape: { q in
        try q.requireFloat(0)
        let target = q.input(1).shape
        guard try broadcastShapes(q.input(0).shape, target) == target else {
            throw ShapeError("\(q.input(0)) does not broadcast to \(target)")
        }
        return .f32(target)
    })

    /// Index of the largest element along `{axis}` (greedy decoding, accuracy). i64 result.
    public static let argmax = OpDef("argmax", arity: .exactly(1), fusion: .reduction, shape: { q in
        try q.requireFloat(0)
        let ax = try q.axis("axis", rank: q.input(0).rank)
        var dims = q.input(0).shape.dims
        dims.remove(at: ax)
        return .i64(Shape(dims))
    })
}
