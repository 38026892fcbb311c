// Transposed convolution (ONNX ConvTranspose): the adjoint of conv2d, computed by conv2d's
// input-gradient kernel.

extension AttributeKey where Value == [Int] {
    /// Extra rows and columns at the end of a transposed convolution's output, as [h, w].
    public static let outputPadding = AttributeKey("output_padding")
}

/// `conv_transpose2d(x, w[, b]) {stride, padding, dilation?, groups?, output_padding?}`:
/// x [N,Cin,H,W], w [Cin,Cout/groups,kh,kw], b [Cout] -> [N,Cout,H',W'] with
/// H' = (H-1)*stride - padTop - padBottom + dilation*(kh-1) + outputPadding + 1. It is
/// conv2d_grad_input of a conv2d from [N,Cout,H',W'] to x with the same window, plus the bias.
/// `output_padding` must be below the stride.
public enum ConvTranspose2dOp: OpSpec {
    public static let name = "conv_transpose2d"
    public static let arity = Arity.between(2, 3)
    public static let fusion = FusionClass.contraction
    public static let attributes = convolutionWindow + [.optional(.outputPadding, .eachAtLeast(0))]
    /// One product per input element and weight of its channel.
    public static func flops(_ q: CostQuery) -> Double { 2 * q.count(0) * Double(q.dim(1, 1) * q.dim(1, 2) * q.dim(1, 3)) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "input"); try q.requireFloat(1, "weight")
        try q.requireRank(0, 4...4, "input"); try q.requireRank(1, 4...4, "weight")
        let x = q.input(0), w = q.input(1)
        let groups = q.attributes[.groups] ?? 1
        guard x.shape[1] == w.shape[0] else {
            throw ShapeError("input has \(x.shape[1]) channels but the weight \(w.shape) expects \(w.shape[0])")
        }
        guard let cin = w.shape[0].value, let cg = w.shape[1].value, let kh = w.shape[2].value, let kw = w.shape[3].value else {
            throw ShapeError("weight \(w) must have known dimensions")
        }
        guard groups >= 1, cin % groups == 0 else { throw ShapeError("\(cin) input channels do not split into \(groups) groups") }
        let outC = cg * groups
        if q.inputs.count == 3 {
            guard q.input(2).shape == Shape([.known(outC)]) else { throw ShapeError("bias \(q.input(2)) must be [\(outC)]") }
        }
        let window = try Window2d(checking: q)
        let extra = q.attributes[.outputPadding] ?? [0, 0]
        guard extra.count == 2 else { throw ShapeError("attribute 'output_padding' needs 2 values, got \(extra.count)") }
        guard case .known(let h) = x.shape[2], case .known(let wd) = x.shape[3] else {
            throw ShapeError("conv_transpose2d: height and width must be known numbers, got \(x)")
        }
        var out: [Int] = []
        for (i, (size, k)) in [(h, kh), (wd, kw)].enumerated() {
            guard extra[i] < window.stride[i] else {
                throw ShapeError("output_padding \(extra[i]) must be below the stride \(window.stride[i])")
            }
            // Checked: a .gir or ONNX file can give sizes, strides and dilations up to 2^32 each.
            let grown = (size - 1).multipliedReportingOverflow(by: window.stride[i])
            let reach = window.dilation[i].multipliedReportingOverflow(by: k - 1)
            let terms = [grown.partialValue, -window.padBegin[i], -window.padEnd[i], reach.partialValue, extra[i], 1]
            var o = 0, overflow = grown.overflow || reach.overflow
            for t in terms where !overflow {
                let sum = o.addingReportingOverflow(t)
                o = sum.partialValue; overflow = sum.overflow
            }
            guard !overflow else {
                throw ShapeError("conv_transpose2d: size \(size) by stride \(window.stride[i]) with kernel \(k) dilated by \(window.dilation[i]) is too large")
            }
            guard o >= 1 else { throw ShapeError("conv_transpose2d: padding leaves no output (size \(o)) for \(x)") }
            out.append(o)
        }
        return .f32(Shape([x.shape[0], .known(outC), .known(out[0]), .known(out[1])]))
    }
}
extension ConvTranspose2dOp: DifferentiableOp {
    /// The adjoint's adjoint: dx = conv2d(dy, w), dw = conv2d_grad_weight with x as the
    /// convolution's output gradient and dy as its input, db = Σ dy over N, H', W'.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let x = c.input(0), w = c.input(1), g = c.gradient
        let window = convolutionAttributes(c.attributes)
        return try c.perInput { i in
            switch i {
            case 0: return try c.emit(.conv2d, [g, w], window)
            case 1: return try c.emit(.conv2dGradWeight, [x, g, w], window)
            default: return try c.emit(.sum, [g], ["axes": .ints([0, 2, 3])])
            }
        }
    }
}

extension OpDef {
    public static let convTranspose2d = OpDef(ConvTranspose2dOp.self)
}
