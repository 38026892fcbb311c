import GraphIR

/// The first step of `fusion`: an LSTM cell's gate math, as the frontend lowers it, becomes
/// one `lstm_cell` kernel; each value of the cell the rest of the graph reads (h, c', the
/// gate activations and tanh c' the backward pass reads) becomes a slice of its result,
/// which the elementwise fusion then reads through windows instead of copies.
///
///     %i = sigmoid(slice(%z) {start=0, end=H})     %f = sigmoid(slice(%z) {start=H, end=2H})
///     %g = tanh(slice(%z) {start=2H, end=3H})      %o = sigmoid(slice(%z) {start=3H, end=4H})
///     %c2 = add(mul(%f, %c), mul(%i, %g))          %h = mul(%o, tanh(%c2))
/// becomes
///     %cell = lstm_cell(%z, %c) : f32[B,7H]
///     %h = slice(%cell) {start=0, end=H}           %c2 = slice(%cell) {start=H, end=2H}  ...
/// (operands of the commutative adds and muls in either order). A cell is taken only when
/// nothing outside it reads its values before its last op (its result is computed there)
/// and its two products have no other reader. Linear: each mul is tried once as a cell's
/// last op, with a fixed number of checks.
/// `lstm-cells`: the same rewrite on its own, among the forward speed-ups, so autodiff sees
/// `lstm_cell` and differentiates each step with lstm_cell_grad and lstm_cell_state_grad
/// (one pass over a row each) instead of the gate math's chain of elementwise gradients.
/// Left out with the lstm-cell fusion kind (`PassOptions.disabledFusions`); `fusion` then
/// finds no cell left on its output.
extension Pass {
    public static let lstmCells = Pass(name: "lstm-cells", summary: "an LSTM cell's gate math -> lstm_cell, before autodiff") { g, context in
        context.options.disabledFusions.contains(.lstmCell) ? g : try LSTMCellFusion(g, context).run()
    }
}

struct LSTMCellFusion {
    let g: Graph
    let uses: [Int]
    let users: [[Int]]

    let context: PassContext

    init(_ g: Graph, _ context: PassContext) {
        self.g = g
        self.context = context
        uses = context.useCounts(g)
        users = context.users(g)
    }

    struct Cell {
        let gates: Value
        let state: Value
        let hidden: Int
        /// The cell's values the graph may read, with their block in lstm_cell's result.
        let parts: [(node: Int, block: Int)]
        /// Every node the kernel replaces.
        let nodes: [Int]
    }

    /// `op(slice(z) {last axis, start, start + width})`: (z, start / width).
    func gate(_ v: Value, _ op: OpDef, width: Int) -> (Value, Int)? {
        let a = g[v]
        guard a.op == op, a.inputs.count == 1 else { return nil }
        let s = g[a.inputs[0]]
        guard s.op == .slice, let start = s.attributes[.start], let end = s.attributes[.end],
              let axis = s.attributes[.axis], end - start == width, start % width == 0 else { return nil }
        let z = s.inputs[0], rank = g.type(of: z).rank
        guard axis == rank - 1 || axis == -1, g.type(of: z).shape.dims.last == .known(4 * width) else { return nil }
        return (z, start / width)
    }

    /// Both orders of a binary op's operands.
    func pairs(_ n: Node) -> [(Value, Value)] { [(n.inputs[0], n.inputs[1]), (n.inputs[1], n.inputs[0])] }

    func cell(at hv: Int) -> Cell? {
        let hn = g.nodes[hv]
        guard hn.op == .mul, hn.inputs.count == 2, hn.type.dtype == .f32, let width = hn.type.shape.dims.last?.value, width > 0 else { return nil }
        for (ov, tv) in pairs(hn) {
            guard let (z, ob) = gate(ov, .sigmoid, width: width), ob == 3, g[tv].op == .tanh else { continue }
            let c2 = g[tv].inputs[0]
            guard g[c2].op == .add, g[c2].type == hn.type else { continue }
            for (fcv, igv) in pairs(g[c2]) {
                guard g[fcv].op == .mul, g[igv].op == .mul, uses[fcv.id] == 1, uses[igv.id] == 1 else { continue }
                var f: (Value, Value)?
                for (fv, cv) in pairs(g[fcv]) { if let (zf, b) = gate(fv, .sigmoid, width: width), zf == z, b == 1 { f = (fv, cv); break } }
                var ig: (Value, Value)?
                for (iv, gv) in pairs(g[igv]) {
                    if let (zi, bi) = gate(iv, .sigmoid, width: width), zi == z, bi == 0,
                       let (zg, bg) = gate(gv, .tanh, width: width), zg == z, bg == 2 { ig = (iv, gv); break }
                }
                guard let (fv, cv) = f, let (iv, gv) = ig, g.type(of: cv) == hn.type,
                      Set([iv.id, fv.id, gv.id, ov.id]).count == 4 else { continue }
                let parts = [(hv, LSTMCellOp.hBlock), (c2.id, LSTMCellOp.cBlock), (iv.id, LSTMCellOp.iBlock), (fv.id, LSTMCellOp.fBlock),
                             (gv.id, LSTMCellOp.gBlock), (ov.id, LSTMCellOp.oBlock), (tv.id, LSTMCellOp.tanhCBlock)]
                let nodes = parts.map(\.0) + [fcv.id, igv.id]
                // Readers outside the cell must come after its last op, where the kernel runs.
                let inside = Set(nodes)
                guard parts.allSatisfy({ p in users[p.0].allSatisfy { inside.contains($0) || $0 > hv } }),
                      z.id < hv, cv.id < hv else { continue }
                return Cell(gates: z, state: cv, hidden: width, parts: parts, nodes: nodes)
            }
        }
        return nil
    }

    func run() throws -> Graph {
        var cells: [Int: Cell] = [:]
        var claimed = Set<Int>()
        for i in g.nodes.indices where g.nodes[i].op == .mul {
            guard let c = cell(at: i), c.nodes.allSatisfy({ !claimed.contains($0) }) else { continue }
            cells[i] = c
            claimed.formUnion(c.nodes)
        }
        guard !cells.isEmpty else { return g }
        context.count("lstm cells", cells.count)
        var r = GraphRewriter(g, pass: "fusion")
        for v in g.values {
            guard let c = cells[v.id] else {
                if !claimed.contains(v.id) { try r.copy(v) }
                continue
            }
            let node = g[v]
            let b = r.builder(for: node)
            do {
                let packed = try b.emit(.lstmCell, [try r.remap(c.gates, in: v), try r.remap(c.state, in: v)])
                let axis = node.type.rank - 1
                for (old, block) in c.parts {
                    let s = try b.emit(.slice, [packed], ["axis": .int(axis), "start": .int(block * c.hidden), "end": .int((block + 1) * c.hidden)])
                    guard r.target.type(of: s) == g.nodes[old].type else { throw PassError(pass: "fusion", "slice type \(r.target.type(of: s))") }
                    r.forward(Value(old), to: s)
                }
            } catch {
                throw nodeError("fusion", g, v, "the LSTM cell kernel does not replace its ops: \(error)")
            }
        }
        return try r.finish()
    }
}

/// Also in `fusion`, after the cells: lstm_cell_grad and lstm_cell_state_grad whose dY is
/// only dh and dc' placed in zeros and added (a decoder step's h and c' read by the next step)
/// take dh and dc' themselves, so neither the [B, 7H] sum nor its zeros are written.
///
///     %a = slice_grad(%dh, %y) {axis=1, start=0, end=H}   %b = slice_grad(%dc, %y) {axis=1, start=H, end=2H}
///     %dy = add(%a, %b)                                   %dz = lstm_cell_grad(%y, %dy, %c)
/// becomes
///     %dz = lstm_cell_grad(%y, %dh, %dc, %c)
/// Linear: each backward op's dY is looked at once.
struct LSTMCellGradientOperands {
    let g: Graph
    let context: PassContext

    /// dY = add(slice_grad(dh) {block h}, slice_grad(dc') {block c'}) of lstm_cell's result y: (dh, dc').
    func split(_ dy: Value, of y: Value) -> (Value, Value)? {
        let add = g[dy], rank = g.type(of: y).rank
        guard add.op == .add, add.inputs.count == 2, add.type == g.type(of: y),
              let w = add.type.shape.dims.last?.value, w % LSTMCellOp.blocks == 0 else { return nil }
        let h = w / LSTMCellOp.blocks
        var blocks: [Int: Value] = [:]
        for v in add.inputs {
            let s = g[v]
            guard s.op == .sliceGrad, s.inputs.count == 2, g.type(of: s.inputs[1]) == add.type,
                  let axis = s.attributes[.axis], axis == rank - 1 || axis == -1,
                  let start = s.attributes[.start], let end = s.attributes[.end], end - start == h, start % h == 0,
                  start / h == LSTMCellOp.hBlock || start / h == LSTMCellOp.cBlock else { return nil }
            blocks[start / h] = s.inputs[0]
        }
        guard let dh = blocks[LSTMCellOp.hBlock], let dc = blocks[LSTMCellOp.cBlock] else { return nil }
        return (dh, dc)
    }

    func run() throws -> Graph {
        var rewrites: [Int: [Value]] = [:]
        for (i, node) in g.nodes.enumerated() {
            let full = node.op == .lstmCellGrad ? 3 : node.op == .lstmCellStateGrad ? 2 : 0
            guard full > 0, node.inputs.count == full, let (dh, dc) = split(node.inputs[1], of: node.inputs[0]) else { continue }
            rewrites[i] = [node.inputs[0], dh, dc] + node.inputs.dropFirst(2)
        }
        guard !rewrites.isEmpty else { return g }
        context.count("lstm cell gradients", rewrites.count)
        var r = GraphRewriter(g, pass: "fusion")
        for v in g.values {
            guard let inputs = rewrites[v.id] else { try r.copy(v); continue }
            let node = g[v]
            do {
                let new = try r.builder(for: node).emit(node.op, try inputs.map { try r.remap($0, in: v) })
                r.forward(v, to: new)
            } catch {
                throw nodeError("fusion", g, v, "lstm_cell's backward does not take dh and dc': \(error)")
            }
        }
        return try r.finish()
    }
}
