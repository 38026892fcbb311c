// The gate math of an LSTM step as one op: made by the fusion pass after autodiff.

/// `lstm_cell(gates, c)`: gates [..., 4H] are the pre-activations of the input, forget, cell
/// and output gates (PyTorch's order i, f, g, o), c [..., H] the previous cell state. One
/// pass over the elements computes i = σ(gates[0H..<1H]), f = σ(gates[1H..<2H]), g =
/// tanh(gates[2H..<3H]), o = σ(gates[3H..<4H]), c' = f c + i g, h = o tanh(c'), and writes
/// each row as [h | c' | i | f | g | o | tanh c'] ([..., 7H]): the new state and every
/// value the backward pass reads, which reads them through windows of the row (see
/// `fused_elementwise`'s offsets) instead of copies. The fusion pass makes it from a
/// differentiated graph, or (`lstm-cells`, a forward speed-up) before autodiff, which then
/// differentiates it with lstm_cell_grad and lstm_cell_state_grad (every block of the result
/// differentiable).
public enum LSTMCellOp: OpSpec {
    public static let name = "lstm_cell"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// Per hidden unit of a row: four gate activations, f c + i g (three), tanh c' and o tanh c'.
    public static func flops(_ q: CostQuery) -> Double { 9 * q.outputCount / Double(blocks) }
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

extension LSTMCellOp: DifferentiableOp {
    /// lstm_cell_grad(Y, dY, c) for the gates and lstm_cell_state_grad(Y, dY) for the cell
    /// state: one pass over a row each (their doc comments give the rule), not a chain of
    /// elementwise ops per step.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let y = c.result, dy = c.gradient, state = c.input(1)
        return [
            c.needs(0) ? try c.emit(.lstmCellGrad, [y, dy, state]) : nil,
            c.needs(1) ? try c.emit(.lstmCellStateGrad, [y, dy]) : nil,
        ]
    }

    /// Y [..., 7H] and its gradient as a backward op's first operands: dY (Y's shape), or
    /// (`split`) dh and dc' [..., H], the gradient's only nonzero blocks. Returns H.
    static func checkBackward(_ q: ShapeQuery, _ op: String, split: Bool) throws -> Int {
        try q.requireFloat(0, "lstm_cell's result"); try q.requireFloat(1, split ? "dh" : "its gradient")
        let y = q.input(0).shape
        guard y.rank >= 1, let w = y.dims.last?.value, w > 0, w % blocks == 0 else {
            throw ShapeError("\(op): lstm_cell's result must be [..., 7H] with a known last dimension, got \(y)")
        }
        let h = w / blocks
        if split {
            try q.requireFloat(2, "dc'")
            let state = Shape(Array(y.dims.dropLast()) + [.known(h)])
            guard q.input(1).shape == state, q.input(2).shape == state else {
                throw ShapeError("\(op): dh and dc' must be \(state) for a result \(y), got \(q.input(1).shape) and \(q.input(2).shape)")
            }
        } else {
            guard q.input(1).shape == y else {
                throw ShapeError("\(op): the gradient must have lstm_cell's result's shape \(y), got \(q.input(1).shape)")
            }
        }
        return h
    }
}

/// `lstm_cell_grad(Y, dY, c)`: the gradient of lstm_cell's gates [..., 4H] from its result Y
/// [..., 7H] = [h | c' | i | f | g | o | t], that result's gradient dY (blocks dh, dc', di, df,
/// dg, do, dt) and the previous cell state c [..., H]. Per unit: dt* = dt + dh o, dc* = dc' +
/// dt* (1 - t t), then [(di + dc* g) i (1 - i) | (df + dc* c) f (1 - f) | (dg + dc* i)
/// (1 - g g) | (do + dh t) o (1 - o)]: sigmoid' = y (1 - y), tanh' = 1 - y², as the unfused
/// sigmoid and tanh gradients compute them. `lstm_cell_grad(Y, dh, dc', c)`: the same with dY
/// = [dh | dc' | 0 ...] (fusion makes it when dY is only those blocks' gradients placed in
/// zeros and added, as a decoder's steps have it).
public enum LSTMCellGradOp: OpSpec {
    public static let name = "lstm_cell_grad"
    public static let arity = Arity.between(3, 4)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// Per hidden unit: dt* and dc* (five), then four gates' (four each).
    public static func flops(_ q: CostQuery) -> Double { 21 * q.outputCount / 4 }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let split = q.inputs.count == 4
        let h = try LSTMCellOp.checkBackward(q, name, split: split)
        let ci = split ? 3 : 2
        try q.requireFloat(ci, "cell state")
        let y = q.input(0).shape, c = q.input(ci).shape
        guard c.rank == y.rank, Array(c.dims.dropLast()) == Array(y.dims.dropLast()), c.dims.last == .known(h) else {
            throw ShapeError("\(name): the cell state must be [..., H] = \(Shape(Array(y.dims.dropLast()) + [.known(h)])) for a result \(y), got \(c)")
        }
        return .f32(Shape(Array(y.dims.dropLast()) + [.known(4 * h)]))
    }
}

/// `lstm_cell_state_grad(Y, dY)`: the gradient of lstm_cell's previous cell state [..., H],
/// dc* f with dc* as in lstm_cell_grad; `lstm_cell_state_grad(Y, dh, dc')` with dY = [dh | dc' |
/// 0 ...].
public enum LSTMCellStateGradOp: OpSpec {
    public static let name = "lstm_cell_state_grad"
    public static let arity = Arity.between(2, 3)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = []
    /// Per hidden unit: dt*, dc* and the product with f.
    public static func flops(_ q: CostQuery) -> Double { 6 * q.outputCount }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let h = try LSTMCellOp.checkBackward(q, name, split: q.inputs.count == 3)
        return .f32(Shape(Array(q.input(0).shape.dims.dropLast()) + [.known(h)]))
    }
}

extension OpDef {
    public static let lstmCell = OpDef(LSTMCellOp.self)
    public static let lstmCellGrad = OpDef(LSTMCellGradOp.self)
    public static let lstmCellStateGrad = OpDef(LSTMCellStateGradOp.self)
}
