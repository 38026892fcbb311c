import GraphIR

/// Every pass graphc knows, by name, in one place.
public enum PassRegistry {
    public static let all: [Pass] = [
        .verify,
        .shapeInference,
        .constantFolding,
        .commonSubexpressionElimination,
        .deadCodeElimination,
        .countParameters,
        .setDropout,
        .autodiff,
        .dropGradients,
        .contract,
        .stackProducts,
        .stackSums,
        .hoist,
        .fusion,
        .memoryPlan,
        .dataParallel,
        .blockedLayout,
        .removeDropout,
        .fuseConvPool,
        .attentionScores,
        .lstmCells,
        .attentionContext,
        .poolGradientSums,
        .sliceProducts,
        .reducedInputs,
        .pooledWeightGradients,
        .recomputePooledConvolutions,
        .attentionGradSums,
    ]

    private static let byName: [String: Pass] = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })

    public static func named(_ n: String) -> Pass? { byName[n] }
}
