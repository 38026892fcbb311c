import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/LSTMCell.swift.

extension LSTMCellOp: KernelOp {
    public static func kernel(_ c: KernelContext) { lstmCellForward(gates: c.inputs[0], c: c.inputs[1], into: c.output) }
}
