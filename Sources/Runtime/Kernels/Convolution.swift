import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Convolution.swift.

extension Conv2dOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let decided = c.attributes[.convolutionForm].flatMap(ConvolutionForm.init(rawValue:))
        conv2dForward(x: c.inputs[0], weight: c.inputs[1], bias: c.inputs.count > 2 ? c.inputs[2] : nil, y: c.output,
                      attributes: c.attributes, workspace: c.workspace, pool: c.pool, form: decided)
    }
}

extension Conv2dGradInputOp: KernelOp {
    public static func kernel(_ c: KernelContext) { conv2dGradInput(dy: c.inputs[0], weight: c.inputs[1], dx: c.output, attributes: c.attributes, workspace: c.workspace, pool: c.pool) }
}

extension Conv2dGradWeightOp: KernelOp {
    public static func kernel(_ c: KernelContext) { conv2dGradWeight(dy: c.inputs[0], x: c.inputs[1], dw: c.output, attributes: c.attributes, workspace: c.workspace, pool: c.pool) }
}

extension Maxpool2dOp: KernelOp {
    public static func kernel(_ c: KernelContext) { maxpool2dForward(x: c.inputs[0], y: c.output, attributes: c.attributes, pool: c.pool) }
}

extension Maxpool2dGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { maxpool2dBackward(dy: c.inputs[0], x: c.inputs[1], dx: c.output, attributes: c.attributes, pool: c.pool) }
}

extension BatchNormOp: KernelOp {
    public static func kernel(_ c: KernelContext) { batchNormInference(c) }
}
