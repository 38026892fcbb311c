/// Every op graphc knows, by name. Adding an op: declare it in `Ops/` and list it here (its CPU
/// kernel goes in `Runtime/Kernels`, listed in `CPUKernels.ops`).
public enum OpRegistry {
    public static let all: [OpDef] = [
        // Sources
        .input, .param, .constant, .dropoutMask,
        // Elementwise
        .relu, .sigmoid, .tanh, .exp, .log, .neg, .scale, .clamp,
        .add, .sub, .mul, .div, .reluGrad,
        // Reductions
        .sum, .mean, .reduceLike, .broadcastLike, .argmax,
        // Contractions and windows
        .matmul, .conv2d, .conv2dGradInput, .conv2dGradWeight, .maxpool2d, .maxpool2dGrad, .batchNorm,
        // Movement
        .reshape, .reshapeLike, .transpose, .concat, .slice, .select, .sliceGrad, .selectGrad, .stack,
        // Lookup
        .embedding, .embeddingGrad,
        // Softmax and losses
        .softmax, .logSoftmax, .softmaxGrad, .logSoftmaxGrad, .nllLoss, .nllLossGrad,
        // Fused (made by the fusion pass)
        .fusedMatmul, .fusedConv2d, .fusedElementwise, .logSoftmaxNllGrad,
        // Made by the stack-sums and fusion passes
        .contractRows, .lstmCell, .lstmCellGrad, .lstmCellStateGrad,
        // Ops for ONNX models
        .avgpool2d, .avgpool2dGrad,
        .leakyRelu, .sqrt, .pow, .abs, .erf, .hardSigmoid,
        .pad, .padGrad, .gather, .gatherGrad, .lrn, .lrnGrad, .convTranspose2d,
        .reduceMax, .reduceMin, .reduceExtremumGrad, .maximum, .minimum,
        .maxpool3d, .maxpool3dGrad, .avgpool3d, .avgpool3dGrad, .maxpoolIndices,
        .where,
        .power, .cast,
        // Made by the data-parallel pass
        .allReduceStart, .allReduceWait, .bucketSlice,
        // Made by the blocked-layout pass (inference graphs)
        .reorderToBlocked, .reorderFromBlocked, .packConvWeight, .blockedConv2d, .blockedMaxpool2d,
        .winogradWeightTransform, .winogradConv2d,
        .blockedConv2dMaxpool,
        // Made by the attention-scores pass
        .additiveScores, .additiveScoresGrad, .additiveScoresWeightGrad, .additiveScoresDecGrad,
        // Made by the attention-context pass
        .attentionContext, .attentionContextGrad,
        // Made by the pool-gradient-sums pass
        .reluGradSum,
        // Made by the pooled-weight-gradients pass
        .pooledConv2dGradWeight,
        // Made by the recompute-pooled-convolutions pass
        .fusedConv2dMaxpool, .recomputedPooledConv2dGradWeight,
        // Made by the attention-grad-sums pass
        .additiveScoresGradSum, .additiveScoresWeightGradSum,
    ]

    public static let byName: [String: OpDef] = {
        var d: [String: OpDef] = [:]
        for op in all {
            precondition(d[op.name] == nil, "op \(op.name) is declared twice")
            d[op.name] = op
        }
        return d
    }()

    public static func named(_ name: String) -> OpDef? { byName[name] }
}
