// Convolution, pooling and batch normalisation over [N, C, H, W].

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

/// `{stride, padding}` each as [h, w]: the [N, C, H', W'] output of a 2-D window.
func window2d(_ q: ShapeQuery, input x: TensorType, channels: Dim, kernel: [Int], what: String) throws -> TensorType {
    let stride = try q.ints("stride", count: 2), padding = try q.ints("padding", count: 2)
    guard case .known(let h) = x.shape[2], case .known(let w) = x.shape[3] else {
        throw ShapeError("\(what): height and width must be known numbers, got \(x)")
    }
    let ho = try windowOutput(h, kernel: kernel[0], stride: stride[0], padding: padding[0], what: what)
    let wo = try windowOutput(w, kernel: kernel[1], stride: stride[1], padding: padding[1], what: what)
    return .f32(Shape([x.shape[0], channels, .known(ho), .known(wo)]))
}

/// `conv2d(x, w[, b]) {stride, padding}`: x [N,C,H,W], w [O,C,kh,kw], b [O] -> [N,O,H',W'].
public enum Conv2dOp: OpSpec {
    public static let name = "conv2d"
    public static let arity = Arity.between(2, 3)
    public static let fusion = FusionClass.contraction
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "input"); try q.requireFloat(1, "weight")
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
    }
}

/// `conv2d_grad_input(dy, w, x) {stride, padding}`: the gradient for x (x gives the shape).
public enum Conv2dGradInputOp: OpSpec {
    public static let name = "conv2d_grad_input"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.contraction
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireRank(0, 4...4); try q.requireRank(1, 4...4); try q.requireRank(2, 4...4)
        return q.input(2)
    }
}

/// `conv2d_grad_weight(dy, x, w) {stride, padding}`: the gradient for w (w gives the shape).
public enum Conv2dGradWeightOp: OpSpec {
    public static let name = "conv2d_grad_weight"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.contraction
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireRank(0, 4...4); try q.requireRank(1, 4...4); try q.requireRank(2, 4...4)
        return q.input(2)
    }
}

/// `maxpool2d(x) {kernel, stride, padding}` over the last two axes of [N,C,H,W].
public enum Maxpool2dOp: OpSpec {
    public static let name = "maxpool2d"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireRank(0, 4...4)
        let k = try q.ints("kernel", count: 2)
        return try window2d(q, input: q.input(0), channels: q.input(0).shape[1], kernel: k, what: "maxpool2d")
    }
}

/// `maxpool2d_grad(dy, x) {kernel, stride, padding}`: routes dy to each window's maximum.
public enum Maxpool2dGradOp: OpSpec {
    public static let name = "maxpool2d_grad"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireRank(1, 4...4)
        return q.input(1)
    }
}

/// `batch_norm(x, weight, bias, running_mean, running_var) {eps}` in inference form:
/// per channel (axis 1) `(x - mean) / sqrt(var + eps) * weight + bias`.
public enum BatchNormOp: OpSpec {
    public static let name = "batch_norm"
    public static let arity = Arity.exactly(5)
    public static let fusion = FusionClass.elementwise
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireRank(0, 2...4)
        let c = q.input(0).shape[1]
        for i in 1...4 where q.input(i).shape != Shape([c]) {
            throw ShapeError("statistics and affine parameters must be [\(c)], got \(q.input(i))")
        }
        return q.input(0)
    }
}

extension OpDef {
    public static let conv2d = OpDef(Conv2dOp.self)
    public static let conv2dGradInput = OpDef(Conv2dGradInputOp.self)
    public static let conv2dGradWeight = OpDef(Conv2dGradWeightOp.self)
    public static let maxpool2d = OpDef(Maxpool2dOp.self)
    public static let maxpool2dGrad = OpDef(Maxpool2dGradOp.self)
    public static let batchNorm = OpDef(BatchNormOp.self)
}
