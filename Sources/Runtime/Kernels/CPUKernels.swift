import GraphIR

/// A CPU kernel: reads `inputs`, writes `output` (see `KernelContext`).
public typealias KernelFunction = (KernelContext) -> Void

/// An op with a CPU kernel. The op is declared in `GraphIR/Ops/X.swift`; its kernel is an
/// extension of the same type in `Runtime/Kernels/X.swift`, listed in `CPUKernels.ops`.
public protocol KernelOp: OpSpec {
    static func kernel(_ c: KernelContext)
}

/// The CPU backend's one registration: every op's kernel, by op. `input` and `param` have
/// none (the executor binds feeds and parameters to them).
public enum CPUKernels {
    static let ops: [KernelOp.Type] = [
        // Sources
        ConstantOp.self, DropoutMaskOp.self,
        // Elementwise
        ReluOp.self, SigmoidOp.self, TanhOp.self, ExpOp.self, LogOp.self, NegOp.self, ScaleOp.self, ClampOp.self,
        AddOp.self, SubOp.self, MulOp.self, DivOp.self, ReluGradOp.self,
        // Reductions
        SumOp.self, MeanOp.self, ReduceLikeOp.self, BroadcastLikeOp.self, ArgmaxOp.self,
        // Contractions and windows
        MatmulOp.self, Conv2dOp.self, Conv2dGradInputOp.self, Conv2dGradWeightOp.self, Maxpool2dOp.self,
        Maxpool2dGradOp.self, BatchNormOp.self,
        // Movement
        ReshapeOp.self, ReshapeLikeOp.self, TransposeOp.self, ConcatOp.self, SliceOp.self, SelectOp.self,
        SliceGradOp.self, SelectGradOp.self, StackOp.self,
        // Lookup
        EmbeddingOp.self, EmbeddingGradOp.self,
        // Softmax and losses
        SoftmaxOp.self, LogSoftmaxOp.self, SoftmaxGradOp.self, LogSoftmaxGradOp.self, NllLossOp.self, NllLossGradOp.self,
        // Fused
        FusedMatmulOp.self, FusedConv2dOp.self, FusedElementwiseOp.self, LogSoftmaxNllGradOp.self,
        ContractRowsOp.self, LSTMCellOp.self, LSTMCellGradOp.self, LSTMCellStateGradOp.self,
        // Ops for ONNX models
        Avgpool2dOp.self, Avgpool2dGradOp.self,
        LeakyReluOp.self, SqrtOp.self, PowOp.self, AbsOp.self, ErfOp.self, HardSigmoidOp.self,
        PadOp.self, PadGradOp.self, GatherOp.self, GatherGradOp.self, LRNOp.self, LRNGradOp.self, ConvTranspose2dOp.self,
        ReduceMaxOp.self, ReduceMinOp.self, ReduceExtremumGradOp.self, MaximumOp.self, MinimumOp.self,
        Maxpool3dOp.self, Maxpool3dGradOp.self, Avgpool3dOp.self, Avgpool3dGradOp.self, MaxpoolIndicesOp.self,
        WhereOp.self,
        PowerOp.self, CastOp.self,
        // Data-parallel communication (made by the data-parallel pass)
        AllReduceStartOp.self, AllReduceWaitOp.self, BucketSliceOp.self,
        // Blocked layout
        ReorderToBlockedOp.self, ReorderFromBlockedOp.self, PackConvWeightOp.self, BlockedConv2dOp.self, BlockedMaxpool2dOp.self,
        WinogradWeightTransformOp.self, WinogradConv2dOp.self,
        BlockedConv2dMaxpoolOp.self,
        // Attention scores (made by the attention-scores pass)
        AdditiveScoresOp.self, AdditiveScoresGradOp.self, AdditiveScoresWeightGradOp.self, AdditiveScoresDecGradOp.self, AdditiveScoresGradSumOp.self, AdditiveScoresWeightGradSumOp.self,
        // Attention context (made by the attention-context pass)
        AttentionContextOp.self, AttentionContextGradOp.self,
        // Made by the pool-gradient-sums pass
        ReluGradSumOp.self,
        // Made by the pooled-weight-gradients pass
        PooledConv2dGradWeightOp.self,
        // Made by the recompute-pooled-convolutions pass
        FusedConv2dMaxpoolOp.self, RecomputedPooledConv2dGradWeightOp.self,
    ]

    /// Kernels by op. An op listed twice is a programming error caught at first use (and by
    /// the registry tests).
    public static let table: [OpDef: KernelFunction] = {
        var t: [OpDef: KernelFunction] = [:]
        for k in ops {
            let op = OpDef(k)
            precondition(t[op] == nil, "op \(op.name) has two CPU kernels")
            t[op] = k.kernel
        }
        return t
    }()

    /// The op's kernel; nil for ops that compute nothing (`input`, `param`).
    public static func kernel(for op: OpDef) -> KernelFunction? { table[op] }

    /// The elementwise ops' kernels, indexed by program opcode (nil: no such opcode). The
    /// fused interpreter calls their `block` through the metatype, which costs no reference
    /// counting per block.
    static let elementwise: [ElementwiseKernelOp.Type?] = {
        let kernels = ops.compactMap { $0 as? ElementwiseKernelOp.Type }
        var t = [ElementwiseKernelOp.Type?](repeating: nil, count: (kernels.map { $0.opcode }.max() ?? -1) + 1)
        for k in kernels { t[k.opcode] = k }
        return t
    }()

    /// The kernels of the elementwise op with this program opcode.
    static func elementwise(opcode: Int) -> ElementwiseKernelOp.Type? {
        opcode >= 0 && opcode < elementwise.count ? elementwise[opcode] : nil
    }
}
