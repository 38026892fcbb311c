#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Elementwise.swift.

extension ReluOp: KernelOp {
    public static func kernel(_ c: KernelContext) { mapUnary(c) { max($0, 0) } }
}

extension SigmoidOp: KernelOp {
    public static func kernel(_ c: KernelContext) { mapUnary(c, fastSigmoid) }
}

extension TanhOp: KernelOp {
    public static func kernel(_ c: KernelContext) { mapUnary(c, fastTanh) }
}

extension ExpOp: KernelOp {
    public static func kernel(_ c: KernelContext) { mapUnary(c, fastExp) }
}

extension LogOp: KernelOp {
    public static func kernel(_ c: KernelContext) { mapUnary(c, logf) }
}

extension NegOp: KernelOp {
    public static func kernel(_ c: KernelContext) { mapUnary(c) { -$0 } }
}

extension ScaleOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let factor = Float(c.attributes.float("factor") ?? 1)
        mapUnary(c) { $0 * factor }
    }
}

extension ClampOp: KernelOp {
    public static func kernel(_ c: KernelContext) {
        let lo = Float(c.attributes.float("min") ?? -.infinity), hi = Float(c.attributes.float("max") ?? .infinity)
        mapUnary(c) { min(max($0, lo), hi) }
    }
}

extension AddOp: KernelOp {
    public static func kernel(_ c: KernelContext) { mapBinary(c) { $0 + $1 } }
}

extension SubOp: KernelOp {
    public static func kernel(_ c: KernelContext) { mapBinary(c) { $0 - $1 } }
}

extension MulOp: KernelOp {
    public static func kernel(_ c: KernelContext) { mapBinary(c) { $0 * $1 } }
}

extension DivOp: KernelOp {
    public static func kernel(_ c: KernelContext) { mapBinary(c) { $0 / $1 } }
}

extension ReluGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { reluGradient(c) }
}
