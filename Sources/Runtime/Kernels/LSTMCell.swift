import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/LSTMCell.swift.

extension LSTMCellOp: KernelOp {
    public static func kernel(_ c: KernelContext) { lstmCellForward(gates: c.inputs[0], c: c.inputs[1], into: c.output) }
}

extension LSTMCellGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let i = c.inputs
        if i.count == 4 {
            lstmCellBackward(y: i[0], dy: nil, split: (i[1], i[2]), c: i[3], dgates: c.output, dc: nil)
        } else {
            lstmCellBackward(y: i[0], dy: i[1], split: nil, c: i[2], dgates: c.output, dc: nil)
        }
    }
}

extension LSTMCellStateGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let i = c.inputs
        if i.count == 3 {
            lstmCellBackward(y: i[0], dy: nil, split: (i[1], i[2]), c: nil, dgates: nil, dc: c.output)
        } else {
            lstmCellBackward(y: i[0], dy: i[1], split: nil, c: nil, dgates: nil, dc: c.output)
        }
    }
}
