import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Contraction.swift.

extension MatmulOp: KernelOp {
    public static func kernel(_ c: KernelContext) { matmulForward(c) }
}
