// The gate math of an LSTM step as one op: made by the fusion pass after autodiff.

/// `lstm_cell(gates, c)`: gates [..., 4H] are the pre-activations of the input, forget, cell
/// and output gates (PyTorch's order i, f, g, o), c [..., H] the previous cell state. One
/// pass over the elements computes i = σ(gates[0H..<1H]), f = σ(gates[1H..<2H]), g =
/// tanh(gates[2H..<3H]), o = σ(gates[3H..<4H]), c' = f c + i g, h = o tanh(c'), and writes
/// each row as [h | c' | i | f | g | o | tanh c'] ([..., 7H]): the new state and every
/// value the backward pass reads, which reads them through windows of the row (see
/// `fused_elementwise`'s offsets) instead of copies. No gradient rule: the fusion pass
/// makes it from a differentiated graph.
public enum LSTMCellOp: OpSpec {
    public static let name = "lstm_cell"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    /// Blocks of a row of the result, in units of H.
    public static let hBlock = 0, cBlock = 1, iBlock = 2, fBlock = 3, gBlock = 4, oBlock = 5, tanhCBlock = 6, blocks = 7

    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "gates"); try q.requireFloat(1, "cell state")
        let gates = q.input(0).shape, c = q.input(1).shape
        guard c.rank >= 1, gates.rank == c.rank, let h = c.dims.last?.value else {
            throw ShapeError("gates and cell state must have the same rank and a known last dimension, got \(gates) and \(c)")
        }
        guard Array(gates.dims.dropLast()) == Array(c.dims.dropLast()), gates.dims.last == .known(4 * h) else {
            throw ShapeError("gates must be [..., 4H] for a cell state [..., H], got \(gates) and \(c)")
        }
        return .f32(Shape(Array(c.dims.dropLast()) + [.known(blocks * h)]))
    }
}
extension LSTMCellOp: KernelOp {
    public static func kernel(_ c: KernelContext) { lstmCellForward(gates: c.inputs[0], c: c.inputs[1], into: c.output) }
}

extension OpDef {
    public static let lstmCell = OpDef(LSTMCellOp.self)
}
