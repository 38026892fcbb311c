import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/ElementwiseMath.swift: made from each op's
// scalar function (`ElementwiseKernelOp`).

extension LeakyReluOp: ElementwiseKernelOp {}
extension SqrtOp: ElementwiseKernelOp {}
extension PowOp: ElementwiseKernelOp {}
extension AbsOp: ElementwiseKernelOp {}
extension ErfOp: ElementwiseKernelOp {}
extension HardSigmoidOp: ElementwiseKernelOp {}
extension MaximumOp: ElementwiseKernelOp {}
extension MinimumOp: ElementwiseKernelOp {}
extension PowerOp: ElementwiseKernelOp {}
