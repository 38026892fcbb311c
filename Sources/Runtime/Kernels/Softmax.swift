import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Softmax.swift.

extension SoftmaxOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        if alongLastAxis(c) { softmaxLastAxis(c) } else { softmaxAlongAxis(c, log: false) }
    }
}

extension LogSoftmaxOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        if alongLastAxis(c) { logSoftmaxLastAxis(c) } else { softmaxAlongAxis(c, log: true) }
    }
}

extension SoftmaxGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { softmaxGradAlongAxis(c, log: false) }
}

extension LogSoftmaxGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        if alongLastAxis(c) { logSoftmaxGradLastAxis(c) } else { softmaxGradAlongAxis(c, log: true) }
    }
}

/// Whether the op's `axis` is its output's last: rows are then contiguous, and the kernels'
/// vector paths take them (with the general loop's bits).
func alongLastAxis(_ c: KernelContext) -> Bool {
    let rank = c.output.shape.count
    return rank > 0 && normalizedAxis(c.attributes[.axis], rank: rank) == rank - 1
}

extension NllLossOp: KernelOp {
    public static func kernel(_ c: KernelContext) { nllLossForward(c) }
}

extension NllLossGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { nllLossBackward(c) }
}
