// The gate math of an LSTM step as one op: made by the fusion pass after autodiff.

/// `lstm_cell(gates, c)`: gates [..., 4H] are the pre-activations of the input, forget, cell
/// and output gates (PyTorch's order i, f, g, o), c [..., H] the previous cell state. One
/// pass over the elements computes i = σ(gates[0H..<1H]), f = σ(gates[1H..<2H]), g =
/// tanh(gates[2H..<3H]), o = σ(gates[3H..<4H]), c' = f c + i g, h = o tanh(c'), and writes
/// each row as [h | c' | i | f | g | o | tanh c'] ([..., 7H]): the new state and every
/// value the backward pass reads, which reads them through windows of the row (see
/// `fused_elementwise`'s offsets) instead of copies. The fusion pass makes it from a
/// differentiated graph; its gradient rule (in primitive ops, every block of the result
/// differentiable) is there so it may also be made before autodiff.
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
    /// With dY's blocks (dh, dc', di, df, dg, do, dt) and Y's (h, c', i, f, g, o, t):
    /// dt* = dt + dh o, dc* = dc' + dt* (1 - t²), then the gates' totals di* = di + dc* g,
    /// df* = df + dc* c, dg* = dg + dc* i, do* = do + dh t through σ' = y(1 - y) and
    /// tanh' = 1 - y²; dc = dc* f.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let y = c.result, dy = c.gradient, state = c.input(1)
        let rank = c.type(y).rank
        guard let width = c.type(state).shape.dims.last?.value else { throw ShapeError("lstm_cell: the cell state's last dimension must be known") }
        func block(_ v: Value, _ k: Int) throws -> Value {
            try c.emit(.slice, [v], ["axis": .int(rank - 1), "start": .int(k * width), "end": .int((k + 1) * width)])
        }
        func mul(_ a: Value, _ b: Value) throws -> Value { try c.emit(.mul, [a, b]) }
        func add(_ a: Value, _ b: Value) throws -> Value { try c.emit(.add, [a, b]) }
        let one = try c.constant(1)
        let (i, f, g, o, t) = (try block(y, iBlock), try block(y, fBlock), try block(y, gBlock), try block(y, oBlock), try block(y, tanhCBlock))
        let dh = try block(dy, hBlock)
        let dt = try add(try block(dy, tanhCBlock), try mul(dh, o))
        let dc = try add(try block(dy, cBlock), try mul(dt, try c.emit(.sub, [one, try mul(t, t)])))
        func sigmoidGrad(_ d: Value, _ s: Value) throws -> Value { try mul(d, try mul(s, try c.emit(.sub, [one, s]))) }
        let di = try sigmoidGrad(try add(try block(dy, iBlock), try mul(dc, g)), i)
        let df = try sigmoidGrad(try add(try block(dy, fBlock), try mul(dc, state)), f)
        let dg = try mul(try add(try block(dy, gBlock), try mul(dc, i)), try c.emit(.sub, [one, try mul(g, g)]))
        let dout = try sigmoidGrad(try add(try block(dy, oBlock), try mul(dh, t)), o)
        return [
            c.needs(0) ? try c.emit(.concat, [di, df, dg, dout], ["axis": .int(rank - 1)]) : nil,
            c.needs(1) ? try mul(dc, f) : nil,
        ]
    }
}

extension OpDef {
    public static let lstmCell = OpDef(LSTMCellOp.self)
}
