import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Sources.swift.

extension ConstantOp: KernelOp {
    public static func kernel(_ c: KernelContext) { fill(c.output.f32, c.output.count, Float(c.attributes[.value] ?? 0)) }
}

extension DropoutMaskOp: KernelOp {
    public static func kernel(_ c: KernelContext) { dropoutMask(c) }
}
