import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/FusedContraction.swift.

extension FusedMatmulOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        matmulForward(c)   // with the epilogue: the third input is the bias
    }
}

extension FusedConv2dOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        Conv2dOp.kernel(c)   // applies the "activation" attribute image by image
    }
}
