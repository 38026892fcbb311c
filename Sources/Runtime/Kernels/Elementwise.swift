import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Elementwise.swift, made from each op's
// scalar function: a loop over the whole tensor (broadcasting for binary ops) and a loop over
// one block of a fused_elementwise program.

/// An elementwise op's CPU kernels. Conforming is all an op needs: both loops come from its
/// scalar function, which the compiler inlines into each op's own loop.
public protocol ElementwiseKernelOp: KernelOp, ElementwiseOp {
    /// `y[j] = scalar(a[j], b[j], k)` for j in 0..<n (`b` is read only by binary ops).
    static func block(_ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ k: ScalarConstants,
                      into y: UnsafeMutablePointer<Float>)
}

extension ElementwiseKernelOp {
    public static func block(_ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ k: ScalarConstants,
                             into y: UnsafeMutablePointer<Float>) {
        for j in 0..<n { y[j] = scalar(a[j], b[j], k) }
    }
}

extension ElementwiseKernelOp where Self: UnaryElementwiseOp {
    public static func kernel(_ c: KernelContext) {
        let k = constants(from: c.attributes) ?? ScalarConstants()
        mapUnary(c) { apply($0, k) }
    }
}

extension ElementwiseKernelOp where Self: BinaryElementwiseOp {
    public static func kernel(_ c: KernelContext) { mapBinary(c) { apply($0, $1) } }
}

/// Ops that also compute on i64 run their integer function when the operands are i64 (the
/// shape rule makes both operands and the result one type). Fused programs are f32 only: the
/// fusion pass takes f32 nodes alone.
extension ElementwiseKernelOp where Self: IntegerElementwiseOp {
    public static func kernel(_ c: KernelContext) {
        if c.output.dtype == .i64 {
            mapBinary(c, Int64.self) { apply(integers: $0, $1) }
        } else {
            mapBinary(c) { apply($0, $1) }
        }
    }
}

extension ReluOp: ElementwiseKernelOp {}
extension SigmoidOp: ElementwiseKernelOp {}
extension TanhOp: ElementwiseKernelOp {}
extension ExpOp: ElementwiseKernelOp {}
extension LogOp: ElementwiseKernelOp {}
extension NegOp: ElementwiseKernelOp {}
extension ScaleOp: ElementwiseKernelOp {}
extension ClampOp: ElementwiseKernelOp {}
extension AddOp: ElementwiseKernelOp {}
extension SubOp: ElementwiseKernelOp {}
extension MulOp: ElementwiseKernelOp {}
extension DivOp: ElementwiseKernelOp {}
extension ReluGradOp: ElementwiseKernelOp {
    /// Its own loop, split over the pool (`reluGradient`).
    public static func kernel(_ c: KernelContext) { reluGradient(c) }
}
