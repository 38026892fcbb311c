import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Movement.swift.

extension ReshapeOp: KernelOp {
    public static func kernel(_ c: KernelContext) { copyAll(c.inputs[0], into: c.output) }
}

extension ReshapeLikeOp: KernelOp {
    public static func kernel(_ c: KernelContext) { copyAll(c.inputs[0], into: c.output) }
}

extension TransposeOp: KernelOp {
    public static func kernel(_ c: KernelContext) { transpose(c.inputs[0], perm: c.attributes[.perm] ?? [], into: c.output) }
}

extension ConcatOp: KernelOp {
    public static func kernel(_ c: KernelContext) { concatenate(c.inputs, axis: normalizedAxis(c.attributes[.axis], rank: c.output.shape.count), into: c.output) }
}

extension SliceOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let x = c.inputs[0], start = c.attributes[.start] ?? 0
        sliceCopy(x, axis: normalizedAxis(c.attributes[.axis], rank: x.shape.count), start: start,
                  length: (c.attributes[.end] ?? start) - start, into: c.output, pool: c.pool)
    }
}

extension SelectOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let x = c.inputs[0]
        sliceCopy(x, axis: normalizedAxis(c.attributes[.axis], rank: x.shape.count), start: c.attributes[.index] ?? 0,
                  length: 1, into: c.output)
    }
}

extension SliceGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let start = c.attributes[.start] ?? 0
        sliceScatter(c.inputs[0], axis: normalizedAxis(c.attributes[.axis], rank: c.output.shape.count), start: start,
                     length: (c.attributes[.end] ?? start) - start, into: c.output)
    }
}

extension SelectGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        sliceScatter(c.inputs[0], axis: normalizedAxis(c.attributes[.axis], rank: c.output.shape.count),
                     start: c.attributes[.index] ?? 0, length: 1, into: c.output)
    }
}

extension StackOp: KernelOp {
    public static func kernel(_ c: KernelContext) { concatenate(c.inputs, axis: normalizedAxis(c.attributes[.axis], rank: c.output.shape.count), into: c.output) }
}
