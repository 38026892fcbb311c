// Matrix products and convolutions: the ops that go to BLAS.

/// Output size of a sliding window, or an error naming the window and the input.
func windowOutput(_ size: Int, kernel: Int, stride: Int, padding: Int, what: String) throws -> Int {
    guard kernel > 0, stride > 0, padding >= 0 else {
        throw ShapeError("\(what): kernel and stride must be positive and padding non-negative")
    }
    let span = size + 2 * padding - kernel
    guard span >= 0 else {
        throw ShapeError("\(what): kernel \(kernel) is larger than the padded input (\(size) + 2*\(padding))")
    }
    return span / stride + 1
}

/// `{kernel, stride, padding}` each as [h, w]: the [N, C, H', W'] output of a 2-D window.
func window2d(_ q: ShapeQuery, input x: TensorType, channels: Dim, kernel: [Int], what: String) throws -> TensorType {
    let stride = try q.ints("stride", count: 2), padding = try q.ints("padding", count: 2)
    guard case .known(let h) = x.shape[2], case .known(let w) = x.shape[3] else {
        throw ShapeError("\(what): height and width must be known numbers, got \(x)")
    }
    let ho = try windowOutput(h, kernel: kernel[0], stride: stride[0], padding: padding[0], what: what)
    let wo = try windowOutput(w, kernel: kernel[1], stride: stride[1], padding: padding[1], what: what)
    return .f32(Shape([x.shape[0], channels, .known(ho), .known(wo)]))
}

extension OpDef {
    /// `matmul(a, b) {transpose_a, transpose_b}`: a is [..., M, K], b is [K, N] or [..., K, N]
    /// with the same leading dimensions; the result is [..., M, N].
    public static let matmul = OpDef("matmul", arity: .exactly(2), fusion: .contraction, shape: { q in
        try q.requireFloat(0, "left operand"); try q.requireFloat(1, "right operand")
        let a = q.input(0).shape, b = q.input(1).shape
        guard a.rank >= 2, b.rank >= 2 else { throw ShapeError("operands must have rank 2 or more, got \(a) and \(b)") }
        let ta = q.attributes.bool("transpose_a") ?? false, tb = q.attributes.bool("transpose_b") ?? false
        let m = ta ? a[a.rank - 1] : a[a.rank - 2], ka = ta ? a[a.rank - 2] : a[a.rank - 1]
        let kb = tb ? b[b.rank - 1] : b[b.rank - 2], n = tb ? b[b.rank - 2] : b[b.rank - 1]
        guard ka == kb else {
            throw ShapeError("inner dimensions differ: \(a)\(ta ? "ᵀ" : "") has \(ka) columns, \(b)\(tb ? "ᵀ" : "") has \(kb) rows")
        }
        let lead = Array(a.dims.dropLast(2))
        if b.rank > 2 {
            guard Array(b.dims.dropLast(2)) == lead else {
                throw ShapeError("batch dimensions differ: \(a) and \(b)")
            }
        }
        return .f32(Shape(lead + [m, n]))
    })

    /// `conv2d(x, w[, b]) {stride, padding}`: x [N,C,H,W], w [O,C,kh,kw], b [O] -> [N,O,H',W'].
    public static let conv2d = OpDef("conv2d", arity: .between(2, 3), fusion: .contraction, shape: { q in
        try q.requireRank(0, 4...4, "input"); try q.requireRank(1, 4...4, "weight")
        let x = q.input(0), w = q.input(1)
        guard x.shape[1] == w.shape[1] else {
            throw ShapeError("input has \(x.shape[1]) channels but the weight \(w.shape) expects \(w.shape[1])")
        }
        if q.inputs.count == 3 {
            guard q.input(2).shape == Shape([w.shape[0]]) else { throw ShapeError("bias \(q.input(2)) must be [\(w.shape[0])]") }
        }
        guard let kh = w.shape[2].value, let kw = w.shape[3].value else { throw ShapeError("kernel size must be known") }
        return try window2d(q, input: x, channels: w.shape[0], kernel: [kh, kw], what: "conv2d")
    })

    /// `conv2d_grad_input(dy, w, x) {stride, padding}`: the gradient for x (x gives the shape).
    public static let conv2dGradInput = OpDef("conv2d_grad_input", arity: .exactly(3), fusion: .contraction, shape: { q in
        try q.requireRank(0, 4...4); try q.requireRank(1, 4...4); try q.requireRank(2, 4...4)
        return q.input(2)
    })

    /// `conv2d_grad_weight(dy, x, w) {stride, padding}`: the gradient for w (w gives the shape).
    public static let conv2dGradWeight = OpDef("conv2d_grad_weight", arity: .exactly(3), fusion: .contraction, shape: { q in
        try q.requireRank(0, 4...4); try q.requireRank(1, 4...4); try q.requireRank(2, 4...4)
        return q.input(2)
    })

    /// `maxpool2d(x) {kernel, stride, padding}` over the last two axes of [N,C,H,W].
    public static let maxpool2d = OpDef("maxpool2d", arity: .exactly(1), fusion: .opaque, shape: { q in
        try q.requireFloat(0); try q.requireRank(0, 4...4)
        let k = try q.ints("kernel", count: 2)
        return try window2d(q, input: q.input(0), channels: q.input(0).shape[1], kernel: k, what: "maxpool2d")
    })

    /// `maxpool2d_grad(dy, x) {kernel, stride, padding}`: routes dy to each window's maximum.
    public static let maxpool2dGrad = OpDef("maxpool2d_grad", arity: .exactly(2), fusion: .opaque, shape: { q in
        try q.requireRank(1, 4...4)
        return q.input(1)
    })

    /// `batch_norm(x, weight, bias, running_mean, running_var) {eps}` in inference form:
    /// per channel (axis 1) `(x - mean) / sqrt(var + eps) * weight + bias`.
    public static let batchNorm = OpDef("batch_norm", arity: .exactly(5), fusion: .elementwise, shape: { q in
        try q.requireFloat(0); try q.requireRank(0, 2...4)
        let c = q.input(0).shape[1]
        for i in 1...4 where q.input(i).shape != Shape([c]) {
            throw ShapeError("statistics and affine parameters must be [\(c)], got \(q.input(i))")
        }
        return q.input(0)
    })
}
