import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/FusedLoss.swift.

extension LogSoftmaxNllGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { logSoftmaxNllBackward(c) }
}
