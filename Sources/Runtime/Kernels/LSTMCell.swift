import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/LSTMCell.swift.

extension LSTMCellOp: KernelOp {
    public static func kernel(_ c: KernelContext) { lstmCellForward(gates: c.inputs[0], c: c.inputs[1], into: c.output) }
}

extension LSTMCellGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        lstmCellBackward(y: c.inputs[0], dy: c.inputs[1], c: c.inputs[2], dgates: c.output, dc: nil)
    }
}

extension LSTMCellStateGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        lstmCellBackward(y: c.inputs[0], dy: c.inputs[1], c: nil, dgates: nil, dc: c.output)
    }
}
