// Convolution, pooling and batch normalisation over [N, C, H, W].

/// Output size of a sliding window, or an error naming the window and the input. The window
/// spans `dilation * (kernel - 1) + 1` positions; with `ceilMode` a last partial step counts
/// too, unless that window would start in the end padding (PyTorch's and ONNX's rule).
func windowOutput(_ size: Int, kernel: Int, stride: Int, padBegin: Int, padEnd: Int, dilation: Int = 1,
                  ceilMode: Bool = false, what: String) throws -> Int {
    guard kernel > 0, stride > 0, dilation > 0, padBegin >= 0, padEnd >= 0 else {
        throw ShapeError("\(what): kernel, stride and dilation must be positive and padding non-negative")
    }
    // Attributes come from files: sums and products that do not fit an Int are an error, not a trap.
    let (reach, o1) = dilation.multipliedReportingOverflow(by: kernel - 1)
    let (extent, o2) = reach.addingReportingOverflow(1)
    let (padStart, o3) = size.addingReportingOverflow(padBegin)
    let (paddedSize, o4) = padStart.addingReportingOverflow(padEnd)
    guard !(o1 || o2 || o3 || o4) else {
        throw ShapeError("\(what): kernel \(kernel) dilated by \(dilation) over \(size) padded by \(padBegin), \(padEnd) is too large")
    }
    let span = paddedSize - extent
    guard span >= 0 else {
        let padded = padBegin == padEnd ? "\(size) + 2*\(padBegin)" : "\(size) + \(padBegin) + \(padEnd)"
        let window = dilation == 1 ? "kernel \(kernel)" : "kernel \(kernel) dilated by \(dilation)"
        throw ShapeError("\(what): \(window) is larger than the padded input (\(padded))")
    }
    // Rounded up without span + stride - 1, which may overflow; a last start past the Int range
    // is past the begin padding and the input too.
    var out = span / stride + (ceilMode && span % stride != 0 ? 1 : 0) + 1
    let (lastStart, o5) = (out - 1).multipliedReportingOverflow(by: stride)
    if ceilMode && (o5 || lastStart >= padStart) { out -= 1 }
    return out
}

/// The geometry attributes of a 2-D window op: `stride` [h, w], `padding` as [h, w] (the same
/// at both ends) or [top, left, bottom, right] (ONNX's `pads` order), and the optional
/// `dilation` [h, w] (default [1, 1]).
public struct Window2d: Equatable, Sendable {
    public var stride: [Int]
    /// Zero padding before (top, left) and after (bottom, right) each axis, as [h, w].
    public var padBegin: [Int]
    public var padEnd: [Int]
    public var dilation: [Int]

    /// The window as the attributes give it; missing or malformed values read as the
    /// defaults (kernels run on verified graphs, whose shape rules used `init(checking:)`).
    public init(_ a: Attributes) {
        let s = a[.stride] ?? [], p = a[.padding] ?? [], d = a[.dilation] ?? []
        stride = s.count == 2 ? s : [1, 1]
        dilation = d.count == 2 ? d : [1, 1]
        switch p.count {
        case 2: padBegin = p; padEnd = p
        case 4: padBegin = [p[0], p[1]]; padEnd = [p[2], p[3]]
        default: padBegin = [0, 0]; padEnd = [0, 0]
        }
    }

    /// The window of a shape query, with an error for a wrong count of values.
    init(checking q: ShapeQuery) throws {
        _ = try q.required(.stride, count: 2)
        let p = try q.required(.padding)
        guard p.count == 2 || p.count == 4 else {
            throw ShapeError("attribute 'padding' needs 2 values [h, w] or 4 [top, left, bottom, right], got \(p.count)")
        }
        if let d = q.attributes[.dilation], d.count != 2 { throw ShapeError("attribute 'dilation' needs 2 values, got \(d.count)") }
        self.init(q.attributes)
    }

    /// Output size along axis `i` (0: height, 1: width) of an input `size` long.
    func output(_ i: Int, size: Int, kernel: Int, ceilMode: Bool = false, what: String) throws -> Int {
        try windowOutput(size, kernel: kernel, stride: stride[i], padBegin: padBegin[i], padEnd: padEnd[i],
                         dilation: dilation[i], ceilMode: ceilMode, what: what)
    }
}

/// The [N, C, H', W'] output of a 2-D window (see `Window2d` for its attributes).
func window2d(_ q: ShapeQuery, input x: TensorType, channels: Dim, kernel: [Int], ceilMode: Bool = false,
              what: String) throws -> TensorType {
    let window = try Window2d(checking: q)
    guard case .known(let h) = x.shape[2], case .known(let w) = x.shape[3] else {
        throw ShapeError("\(what): height and width must be known numbers, got \(x)")
    }
    let ho = try window.output(0, size: h, kernel: kernel[0], ceilMode: ceilMode, what: what)
    let wo = try window.output(1, size: w, kernel: kernel[1], ceilMode: ceilMode, what: what)
    return .f32(Shape([x.shape[0], channels, .known(ho), .known(wo)]))
}

extension AttributeKey where Value == [Int] {
    /// A 2-D window's step and zero padding: stride as [h, w], padding as [h, w] or
    /// [top, left, bottom, right].
    public static let stride = AttributeKey("stride")
    public static let padding = AttributeKey("padding")
    /// A pooling window's size as [h, w].
    public static let kernelSize = AttributeKey("kernel")
    /// Spacing between a window's taps as [h, w] (1: adjacent).
    public static let dilation = AttributeKey("dilation")
}
extension AttributeKey where Value == Int {
    /// A convolution's channel groups: input and output channels split into this many groups,
    /// each output group seeing only its input group.
    public static let groups = AttributeKey("groups")
}
extension AttributeKey where Value == Bool {
    /// A pooling window's output size rounds up (a last partial window counts).
    public static let ceilMode = AttributeKey("ceil_mode")
}
extension AttributeKey where Value == Double {
    /// Batch normalisation's variance offset.
    public static let eps = AttributeKey("eps")
}

/// `stride` and `padding` of a window.
let windowGeometry: [AttributeSpec] = [.required(.stride, .eachAtLeast(1)), .required(.padding, .eachAtLeast(0))]
/// A convolution's: `stride`, `padding`, and the optional `dilation` and `groups`.
let convolutionWindow: [AttributeSpec] = windowGeometry + [.optional(.dilation, .eachAtLeast(1)), .optional(.groups, .atLeast(1))]

/// How a plain-layout convolution runs, when a pass has decided it: `im2col` (unfold + GEMM),
/// `direct` (the blocked direct kernel over the plain layout), `rows` (a direct kernel
/// vectorised along the output rows, for a few input channels) or `winograd` (Winograd
/// F(4x4, 3x3), 3x3 stride-1 windows only). Without the attribute the
/// runtime measures those that take the shape (`--tune`); `blocked-layout` writes `im2col` on a layer its
/// chooser gave to im2col, so a forced `--convolution im2col` runs exactly that. Gradient ops
/// do not take it (`convolutionAttributes`).
public enum ConvolutionForm: String, CaseIterable, Sendable {
    case im2col, direct, rows, winograd

    /// The optional `form` attribute of conv2d and fused_conv2d.
    static let spec = AttributeSpec.optional(.convolutionForm, .oneOf(allCases.map(\.rawValue)))
}

extension AttributeKey where Value == String {
    /// A convolution's decided `ConvolutionForm`.
    public static let convolutionForm = AttributeKey("form")
}

/// The attributes of a convolution node that its gradient ops take (not a fused epilogue's).
func convolutionAttributes(_ a: Attributes) -> Attributes {
    var out = Attributes()
    out[.stride] = a[.stride] ?? [1, 1]
    out[.padding] = a[.padding] ?? [0, 0]
    if let d = a[.dilation] { out[.dilation] = d }
    if let g = a[.groups] { out[.groups] = g }
    return out
}

/// Weight elements each output element of a convolution sums over: C*kh*kw of w [O,C,kh,kw].
func weightFanIn(_ q: CostQuery, weight: Int) -> Double { q.dim(weight, 1) * q.dim(weight, 2) * q.dim(weight, 3) }

/// `conv2d(x, w[, b]) {stride, padding, dilation?, groups?}`: x [N,C,H,W], w [O,C/groups,kh,kw],
/// b [O] -> [N,O,H',W']. With groups, output channels [k*O/groups, (k+1)*O/groups) see only
/// input channels [k*C/groups, (k+1)*C/groups).
public enum Conv2dOp: OpSpec {
    public static let name = "conv2d"
    public static let arity = Arity.between(2, 3)
    public static let fusion = FusionClass.contraction
    public static let attributes = convolutionWindow + [ConvolutionForm.spec]
    /// Each output element is a dot product over C*kh*kw inputs.
    public static func flops(_ q: CostQuery) -> Double { 2 * q.outputCount * weightFanIn(q, weight: 1) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "input"); try q.requireFloat(1, "weight")
        try q.requireRank(0, 4...4, "input"); try q.requireRank(1, 4...4, "weight")
        let x = q.input(0), w = q.input(1)
        let groups = q.attributes[.groups] ?? 1
        if groups == 1 {
            guard x.shape[1] == w.shape[1] else {
                throw ShapeError("input has \(x.shape[1]) channels but the weight \(w.shape) expects \(w.shape[1])")
            }
        } else {
            guard groups > 0, let c = x.shape[1].value, let cg = w.shape[1].value, let o = w.shape[0].value else {
                throw ShapeError("grouped convolution needs known channel counts, got input \(x) and weight \(w)")
            }
            guard c == cg * groups else {
                throw ShapeError("input has \(c) channels but the weight \(w.shape) in \(groups) groups expects \(cg * groups)")
            }
            guard o % groups == 0 else { throw ShapeError("\(o) output channels do not split into \(groups) groups") }
        }
        if q.inputs.count == 3 {
            guard q.input(2).shape == Shape([w.shape[0]]) else { throw ShapeError("bias \(q.input(2)) must be [\(w.shape[0])]") }
        }
        guard let kh = w.shape[2].value, let kw = w.shape[3].value else { throw ShapeError("kernel size must be known") }
        return try window2d(q, input: x, channels: w.shape[0], kernel: [kh, kw], what: "conv2d")
    }
}
extension Conv2dOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let x = c.input(0), w = c.input(1), g = c.gradient
        let window = convolutionAttributes(c.attributes)
        return try c.perInput { i in
            switch i {
            case 0: return try c.emit(.conv2dGradInput, [g, w, x], window)
            case 1: return try c.emit(.conv2dGradWeight, [g, x, w], window)
            default: return try c.emit(.sum, [g], ["axes": .ints([0, 2, 3])])
            }
        }
    }
}

/// `conv2d_grad_input(dy, w, x) {stride, padding, dilation?, groups?}`: the gradient for x (x gives the shape).
public enum Conv2dGradInputOp: OpSpec {
    public static let name = "conv2d_grad_input"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.contraction
    public static let attributes = convolutionWindow
    /// dy [N,O,OH,OW], w [O,C,kh,kw]: one product per dy element and weight.
    public static func flops(_ q: CostQuery) -> Double { 2 * q.count(0) * weightFanIn(q, weight: 1) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireRank(0, 4...4); try q.requireRank(1, 4...4); try q.requireRank(2, 4...4)
        return q.input(2)
    }
}

/// `conv2d_grad_weight(dy, x, w) {stride, padding, dilation?, groups?}`: the gradient for w (w gives the shape).
public enum Conv2dGradWeightOp: OpSpec {
    public static let name = "conv2d_grad_weight"
    public static let arity = Arity.exactly(3)
    public static let fusion = FusionClass.contraction
    public static let attributes = convolutionWindow
    /// One product per dy element and weight of an output channel.
    public static func flops(_ q: CostQuery) -> Double {
        2 * q.count(0) * Double(q.output.dropFirst().reduce(1, *))
    }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireRank(0, 4...4); try q.requireRank(1, 4...4); try q.requireRank(2, 4...4)
        return q.input(2)
    }
}

/// `kernel`, `stride` and `padding` of a pooling window, and the optional `ceil_mode`.
let poolingWindow: [AttributeSpec] = [.required(.kernelSize, .eachAtLeast(1))] + windowGeometry + [.optional(.ceilMode)]

/// Elements of a pooling window (a product of Doubles: a window mostly in padding may hold more
/// than an Int counts).
func windowSize(_ q: CostQuery) -> Double { (q.attributes[.kernelSize] ?? []).reduce(1) { $0 * Double($1) } }

/// `maxpool2d(x) {kernel, stride, padding, dilation?, ceil_mode?}` over the last two axes of
/// [N,C,H,W]. Padding never wins; a window entirely in padding gives -inf.
public enum Maxpool2dOp: OpSpec {
    public static let name = "maxpool2d"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static let attributes = poolingWindow + [.optional(.dilation, .eachAtLeast(1))]
    /// A comparison per output element and window position.
    public static func flops(_ q: CostQuery) -> Double { q.outputCount * windowSize(q) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireRank(0, 4...4)
        let k = try q.required(.kernelSize, count: 2)
        return try window2d(q, input: q.input(0), channels: q.input(0).shape[1], kernel: k,
                            ceilMode: q.attributes[.ceilMode] ?? false, what: "maxpool2d")
    }
}
extension Maxpool2dOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.maxpool2dGrad, [c.gradient, c.input(0)], c.attributes)]
    }
}

/// `maxpool2d_grad(dy, x) {kernel, stride, padding, dilation?, ceil_mode?, activation?}`: routes
/// dy to each window's maximum. With `activation="relu"` (the fusion pass's pool-gradient
/// fold) a dy whose maximum is not above 0 is dropped: `relu_grad(maxpool2d_grad(dy, x), x)`.
public enum Maxpool2dGradOp: OpSpec {
    public static let name = "maxpool2d_grad"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static let attributes = Maxpool2dOp.attributes + [EpilogueActivation.spec]
    /// The forward's comparisons again, per dy element, to find where each maximum was.
    public static func flops(_ q: CostQuery) -> Double { q.count(0) * windowSize(q) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        _ = try EpilogueActivation(q.attributes)
        try q.requireFloat(0, "gradient"); try q.requireRank(0, 4...4, "gradient"); try q.requireRank(1, 4...4)
        // The kernels walk dy by x's pooled shape: anything else would read past dy.
        let y = try Maxpool2dOp.shape(ShapeQuery(inputs: [q.input(1)], attributes: q.attributes))
        guard y.shape == q.input(0).shape else { throw ShapeError("gradient \(q.input(0)) must be the pooled shape \(y.shape)") }
        return q.input(1)
    }
}

/// `batch_norm(x, weight, bias, running_mean, running_var) {eps}` in inference form:
/// per channel (axis 1) `(x - mean) / sqrt(var + eps) * weight + bias`.
public enum BatchNormOp: OpSpec {
    public static let name = "batch_norm"
    public static let arity = Arity.exactly(5)
    public static let fusion = FusionClass.elementwise
    /// Without `eps` the kernel and the gradient use 1e-5.
    public static let attributes: [AttributeSpec] = [.optional(.eps, .atLeast(0))]
    /// A multiply and an add per element, with each channel's scale and shift computed once.
    public static func flops(_ q: CostQuery) -> Double { 2 * q.outputCount }
    /// Element k of x gives element k of the result; the statistics are [C].
    public static let inPlaceOperands = InPlaceOperands.inputs([0])
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireRank(0, 2...4)
        let c = q.input(0).shape[1]
        for i in 1...4 where q.input(i).shape != Shape([c]) {
            throw ShapeError("statistics and affine parameters must be [\(c)], got \(q.input(i))")
        }
        return q.input(0)
    }
}
extension BatchNormOp: DifferentiableOp {
    /// Inference form, y = (x - mean) * s * weight + bias with s = (var + eps)^-1/2: the
    /// statistics are constants, so dx = dy * weight * s, dweight = Σ dy * (x - mean) * s and
    /// dbias = Σ dy over every axis but the channel. s is exp(-log(var + eps) / 2) as there is
    /// no square-root op.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let x = c.input(0), weight = c.input(1), mean = c.input(3), variance = c.input(4), g = c.gradient
        let xs = c.type(x).shape
        let otherAxes = Array(0..<xs.rank).filter { $0 != 1 }
        // [C] laid out as [C, 1, ...] so that it broadcasts along axis 1 of x.
        func perChannel(_ v: Value) throws -> Value {
            guard xs.rank > 2 else { return v }
            return try c.emit(.reshape, [v], ["shape": .shape(Shape([xs[1]] + Array(repeating: .known(1), count: xs.rank - 2)))])
        }
        let eps = try c.constant(c.attributes[.eps] ?? 1e-5)
        let logVar = try c.emit(.log, [try c.emit(.add, [variance, eps])])
        let invStd = try c.emit(.exp, [try c.emit(.scale, [logVar], ["factor": .float(-0.5)])])
        return try c.perInput { i in
            switch i {
            case 0: return try c.emit(.mul, [g, try perChannel(try c.emit(.mul, [weight, invStd]))])
            case 1:
                let centred = try c.emit(.sub, [x, try perChannel(mean)])
                let xhat = try c.emit(.mul, [centred, try perChannel(invStd)])
                return try c.emit(.sum, [try c.emit(.mul, [g, xhat])], ["axes": .ints(otherAxes)])
            case 2: return try c.emit(.sum, [g], ["axes": .ints(otherAxes)])
            default: return nil  // running statistics are buffers
            }
        }
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
