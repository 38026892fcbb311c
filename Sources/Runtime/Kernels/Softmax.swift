import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Softmax.swift.

extension SoftmaxOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let rank = c.output.shape.count
        if rank > 0 && normalizedAxis(c.attributes[.axis], rank: rank) == rank - 1 {
            softmaxLastAxis(c)
        } else {
            softmaxAlongAxis(c, log: false)
        }
    }
}

extension LogSoftmaxOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let rank = c.output.shape.count
        if rank > 0 && normalizedAxis(c.attributes[.axis], rank: rank) == rank - 1 {
            logSoftmaxLastAxis(c)
        } else {
            softmaxAlongAxis(c, log: true)
        }
    }
}

extension SoftmaxGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { softmaxGradAlongAxis(c, log: false) }
}

extension LogSoftmaxGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let rank = c.output.shape.count
        if rank > 0 && normalizedAxis(c.attributes[.axis], rank: rank) == rank - 1 {
            logSoftmaxGradLastAxis(c)
        } else {
            softmaxGradAlongAxis(c, log: true)
        }
    }
}

extension NllLossOp: KernelOp {
    public static func kernel(_ c: KernelContext) { nllLossForward(c) }
}

extension NllLossGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { nllLossBackward(c) }
}
