/// What one executor (and the optimiser behind it) holds, in bytes: printed before training
/// so the plan can be checked against the process's measured peak RSS.
public struct MemorySummary: Equatable {
    /// Weights, in the executor's own region.
    public var parameters: Int
    /// The per-binding arena: activations, feeds and every output (gradients included).
    public var arena: Int
    /// The part of the arena that graph outputs take (gradients in a training graph).
    public var outputs: Int
    /// Kernel scratch (im2col columns and the like), sized by the largest request.
    public var workspace: Int
    /// Momentum buffers or Adam moments.
    public var optimizerState: Int
    /// What the arena would take with one region per value (no lifetime planning).
    public var unplannedBytes: Int
    /// Values computed once from the parameters and kept between runs (packed weights,
    /// folded BatchNorms; `ParameterDerivedValues`).
    public var parameterDerived: Int = 0

    public var total: Int { parameters + arena + workspace + optimizerState + parameterDerived }

    public var description: String {
        func mb(_ b: Int) -> String { String(format: "%.2f MB", Double(b) / 1_048_576) }
        let derived = parameterDerived > 0 ? "computed once from parameters \(mb(parameterDerived)), " : ""
        return "memory plan: parameters \(mb(parameters)), \(derived)activations \(mb(arena - outputs)), gradients/outputs \(mb(outputs)), "
            + "optimiser state \(mb(optimizerState)), scratch \(mb(workspace)); total \(mb(total)) "
            + "(arena \(mb(arena)) vs \(mb(unplannedBytes)) with one buffer per value)"
    }
}
