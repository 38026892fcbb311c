import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/FusedElementwise.swift.

extension FusedElementwiseOp: KernelOp {
    public static func kernel(_ c: KernelContext) { runElementwiseProgram(c) }
}
