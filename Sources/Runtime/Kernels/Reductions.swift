import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Reductions.swift.

extension SumOp: KernelOp {
    public static func kernel(_ c: KernelContext) { reduceAxes(c, mean: false) }
}

extension MeanOp: KernelOp {
    public static func kernel(_ c: KernelContext) { reduceAxes(c, mean: true) }
}

extension ReduceLikeOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let x = c.inputs[0], target = c.output.shape
        sumReduce(x, into: c.output) { writeBroadcastStrides(of: target, rank: x.shape.count, into: $0) }
    }
}

extension BroadcastLikeOp: KernelOp {
    public static func kernel(_ c: KernelContext) { broadcast(c.inputs[0], to: c.output) }
}

extension ArgmaxOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let x = c.inputs[0]
        argmaxAlongAxis(x, axis: normalizedAxis(c.attributes[.axis], rank: x.shape.count), into: c.output,
                        last: c.attributes[.selectLast] ?? false)
    }
}
