import GraphIR
import Runtime

// Recurrent layers, unrolled over a sequence length known at import.

extension ONNXOps {
    static let recurrent: [ONNXOpConverter] = [lstm]

    /// A zero tensor: `ConstantOfShape` of 0 (PyTorch's exports make h0 and c0 so, for a
    /// symbolic batch) or a known tensor of zeros.
    static func isZero(_ v: ONNXValue) -> Bool {
        switch v {
        case .filled(let t, _): return t.floats.first == 0
        case .constant(let t): return t.dtype == .f32 && t.floats.allSatisfy { $0 == 0 }
        default: return false
        }
    }

    /// An LSTM (every direction, layout, sequence_lens, peepholes, clip and input_forget of
    /// ONNX's definition) unrolled into the cell the DSL's LSTMCell lowers to, so graphc's
    /// fusion makes each step one `lstm_cell` (steps with peepholes or input_forget stay
    /// elementwise ops). W, R, B, P and the initial states may be graph inputs or initializers
    /// (parameters under their ONNX names); ONNX orders the gates i, o, f, c, graphc (as
    /// PyTorch) i, f, g, o, so each direction's W, R and B are reordered by slices in the graph.
    /// Y is [seq, dirs, batch, H] (layout 1: [batch, seq, dirs, H]), Y_h and Y_c [dirs, batch, H]
    /// (layout 1: [batch, dirs, H]).
    static let lstm = ONNXOpConverter("LSTM") { c in
        let lstm = try LSTMImport(c)
        return try lstm.outputs()
    }
}

/// The attributes and inputs of one ONNX LSTM node, and the graph it unrolls to.
struct LSTMImport {
    let c: ONNXNodeContext
    /// Per direction: whether it runs the sequence backwards.
    let reversed: [Bool]
    let batchMajor: Bool
    let inputForget: Bool
    let clip: Double?
    let x: Value
    let steps: Int
    let batch: Dim
    let hidden: Int
    /// Which steps lie within each sequence's length; nil when every sequence runs the full length.
    let lengths: Lengths?

    enum Lengths {
        /// Known at import.
        case known([Int])
        /// [batch, steps] looked up at run time: 1 where step t < length, else 0.
        case mask(Value)
    }

    /// The longest sequence unrolled (each step is a few ops per direction).
    static let maxSteps = 1 << 16

    init(_ c: ONNXNodeContext) throws {
        self.c = c
        let direction = c.string("direction", default: "forward")
        switch direction {
        case "forward": reversed = [false]
        case "reverse": reversed = [true]
        case "bidirectional": reversed = [false, true]
        default: throw c.fail("direction \"\(direction)\" is not one of forward, reverse, bidirectional")
        }
        let layout = c.int("layout", default: 0)
        guard layout == 0 || layout == 1 else { throw c.fail("layout \(layout) is not 0 ([seq, batch, input]) or 1 ([batch, seq, input])") }
        batchMajor = layout == 1
        let flag = c.int("input_forget", default: 0)
        guard flag == 0 || flag == 1 else { throw c.fail("input_forget \(flag) is not 0 or 1") }
        inputForget = flag == 1
        clip = c.float("clip")
        if let clip, !(clip > 0) { throw c.fail("clip \(clip) is not a positive threshold") }
        let defaults = ["sigmoid", "tanh", "tanh"]
        if let acts = c.strings("activations"),
           acts.map({ $0.lowercased() }) != Array(Array(repeating: defaults, count: reversed.count).joined()) {
            throw c.fail("activations \(acts) are not supported (graphc's LSTM cell computes Sigmoid, Tanh, Tanh in each direction)")
        }
        x = try c.tensor(0)
        let xt = c.type(x)
        guard xt.rank == 3, xt.dtype == .f32 else {
            throw c.fail("X must be f32 [\(batchMajor ? "batch, seq" : "seq, batch"), input], got \(xt)")
        }
        steps = try c.knownSize(x, batchMajor ? 1 : 0, "sequence")
        guard steps > 0 else { throw c.fail("the sequence is empty") }
        guard steps <= LSTMImport.maxSteps else {
            throw c.fail("the sequence of \(steps) steps is longer than the \(LSTMImport.maxSteps) graphc unrolls an LSTM over")
        }
        batch = xt.shape[batchMajor ? 0 : 1]
        let inputSize = try c.knownSize(x, 2, "input")
        let w = try c.inputType(1), r = try c.inputType(2)
        let dirs = Dim.known(reversed.count)
        guard r.rank == 3, let h = r.shape[2].value, h > 0,
              w.shape.dims == [dirs, .known(4 * h), .known(inputSize)], r.shape.dims == [dirs, .known(4 * h), .known(h)],
              w.dtype == .f32, r.dtype == .f32 else {
            throw c.fail("W \(w) and R \(r) must be f32 [\(reversed.count), 4H, \(inputSize)] and [\(reversed.count), 4H, H] for X \(xt)")
        }
        hidden = h
        if let size = c.int("hidden_size"), size != hidden { throw c.fail("hidden_size \(size) differs from R's \(hidden)") }
        lengths = try LSTMImport.lengths(c, steps: steps, batch: batch)
    }

    /// From sequence_lens: nil when absent or every length is the full sequence. Lengths given
    /// at run time look their row up in a table of every length's mask (`embedding`), so no
    /// integer arithmetic runs in the graph.
    static func lengths(_ c: ONNXNodeContext, steps: Int, batch: Dim) throws -> Lengths? {
        guard c.has(4) else { return nil }
        let type = try c.inputType(4)
        guard type.dtype == .i64, type.rank == 1, type.shape[0] == batch else {
            throw c.fail("sequence_lens must be integers [batch] (batch \(batch)), got \(type)")
        }
        if let lengths = c.constant(4) {
            let ls = lengths.ints.map { Int(clamping: $0) }
            if let bad = ls.first(where: { $0 < 0 || $0 > steps }) {
                throw c.fail("sequence_lens holds \(bad), outside 0...\(steps) (the sequence length)")
            }
            if ls.allSatisfy({ $0 == steps }) { return nil }
            return .known(ls)
        }
        let rows = try c.madeConstant([steps + 1, steps], name: c.name + ".mask_by_length") { _ in
            var table: [Float] = []
            for length in 0...steps { for t in 0..<steps { table.append(t < length ? 1 : 0) } }
            return table
        }
        // A length outside 0...steps has no row: the embedding kernel refuses it at run time.
        return .mask(try c.emit(.embedding, [try c.tensor(4), rows]))
    }

    /// Input `i`'s part for direction `d`: W, R, B and P lead with the direction axis, the
    /// initial states too unless batch-major.
    func part(_ i: Int, direction d: Int, axis: Int = 0) throws -> Value {
        try c.emit(.select, [try c.tensor(i)], ["axis": .int(axis), "index": .int(d)])
    }

    /// Blocks of 4H rows (or entries) along axis 0 from ONNX's i, o, f, c to graphc's i, f, g(c), o.
    func gateOrder(_ v: Value) throws -> Value {
        let blocks = try [0, 2, 3, 1].map { k in
            try c.emit(.slice, [v], ["axis": .int(0), "start": .int(k * hidden), "end": .int((k + 1) * hidden)])
        }
        return try c.emit(.concat, blocks, ["axis": .int(0)])
    }

    func block(_ v: Value, _ k: Int, axis: Int) throws -> Value {
        try c.emit(.slice, [v], ["axis": .int(axis), "start": .int(k * hidden), "end": .int((k + 1) * hidden)])
    }

    /// Initial state input `i` (initial_h or initial_c) for direction `d`, [batch, H]; zeros
    /// when not given.
    func initialState(_ i: Int, direction d: Int) throws -> Value {
        if c.has(i), !ONNXOps.isZero(try c.value(i)) {
            let t = try c.inputType(i)
            let dims: [Dim] = batchMajor ? [batch, .known(reversed.count), .known(hidden)] : [.known(reversed.count), batch, .known(hidden)]
            guard t.dtype == .f32, t.shape.dims == dims else { throw c.fail("input \(i) must be f32 \(Shape(dims)), got \(t)") }
            return try part(i, direction: d, axis: batchMajor ? 1 : 0)
        }
        if let b = batch.value {
            return try c.madeConstant([b, hidden], name: c.name + ".zero_state") { Array(repeating: 0, count: $0) }
        }
        let zeros = try c.madeConstant([1, hidden], name: c.name + ".zero_row") { Array(repeating: 0, count: $0) }
        // Zeros [1, H] picked over a [batch, 1] column of x: zeros [batch, H] for a batch that
        // may be symbolic (whatever x holds).
        let column = try c.emit(.slice, [try c.emit(.select, [x], ["axis": .int(batchMajor ? 1 : 0), "index": .int(0)])],
                                ["axis": .int(1), "start": .int(0), "end": .int(1)])
        return try c.emit(.where, [column, zeros, zeros])
    }

    /// Runs direction `d` over the sequence: its outputs at each step (in sequence order) and
    /// its final h and c.
    func run(direction d: Int) throws -> (ys: [Value], h: Value, cell: Value) {
        let tb: Attributes = ["transpose_b": .bool(true)]
        let w = try gateOrder(try part(1, direction: d)), r = try gateOrder(try part(2, direction: d))
        var bias: Value?
        if c.has(3), !ONNXOps.isZero(try c.value(3)) {
            let t = try c.inputType(3)
            guard t.dtype == .f32, t.shape.dims == [.known(reversed.count), .known(8 * hidden)] else {
                throw c.fail("B must be f32 [\(reversed.count), \(8 * hidden)], got \(t)")
            }
            let b = try part(3, direction: d)
            let sum = try c.emit(.add, [try c.emit(.slice, [b], ["axis": .int(0), "start": .int(0), "end": .int(4 * hidden)]),
                                        try c.emit(.slice, [b], ["axis": .int(0), "start": .int(4 * hidden), "end": .int(8 * hidden)])])
            bias = try gateOrder(sum)
        }
        var peepholes: (i: Value, o: Value, f: Value)?
        if c.has(7), !ONNXOps.isZero(try c.value(7)) {
            let t = try c.inputType(7)
            guard t.dtype == .f32, t.shape.dims == [.known(reversed.count), .known(3 * hidden)] else {
                throw c.fail("P must be f32 [\(reversed.count), \(3 * hidden)], got \(t)")
            }
            let p = try part(7, direction: d)
            peepholes = (try block(p, 0, axis: 0), try block(p, 1, axis: 0), try block(p, 2, axis: 0))
        }
        func clipped(_ v: Value) throws -> Value {
            guard let clip else { return v }
            return try c.emit(.clamp, [v], ["min": .float(-clip), "max": .float(clip)])
        }
        var h = try initialState(5, direction: d), cell = try initialState(6, direction: d)
        var ys = [Value?](repeating: nil, count: steps)
        for t in reversed[d] ? Array((0..<steps).reversed()) : Array(0..<steps) {
            let xs = try c.emit(.select, [x], ["axis": .int(batchMajor ? 1 : 0), "index": .int(t)])
            var z = try c.emit(.add, [try c.emit(.matmul, [xs, w], tb), try c.emit(.matmul, [h, r], tb)])
            if let bias { z = try c.emit(.add, [z, bias]) }
            // Clipping bounds each gate's input after its peephole term; without peepholes the
            // gates are clipped at once, which keeps the cell's pattern for the fusion.
            if peepholes == nil { z = try clipped(z) }
            func gate(_ k: Int, peephole: Value?, state: Value) throws -> Value {
                let v = try block(z, k, axis: 1)
                guard peepholes != nil else { return v }
                guard let peephole else { return try clipped(v) }
                return try clipped(try c.emit(.add, [v, try c.emit(.mul, [peephole, state])]))
            }
            let i = try c.emit(.sigmoid, [try gate(0, peephole: peepholes?.i, state: cell)])
            let f: Value
            if inputForget { f = try c.emit(.sub, [try c.builder.scalar(1), i]) }
            else { f = try c.emit(.sigmoid, [try gate(1, peephole: peepholes?.f, state: cell)]) }
            let g = try c.emit(.tanh, [try gate(2, peephole: nil, state: cell)])
            let next = try c.emit(.add, [try c.emit(.mul, [f, cell]), try c.emit(.mul, [i, g])])
            let o = try c.emit(.sigmoid, [try gate(3, peephole: peepholes?.o, state: next)])
            let out = try c.emit(.mul, [o, try c.emit(.tanh, [next])])
            if let lengths {
                // Past a sequence's length the state stays and the output is zero; a reversed
                // direction thus starts each sequence at its last step within the length.
                // (`where` picks, so whatever a padded step computes never reaches the result.)
                let within = try self.within(lengths, step: t)
                ys[t] = try c.emit(.where, [within, out, try c.builder.scalar(0)])
                h = try c.emit(.where, [within, out, h])
                cell = try c.emit(.where, [within, next, cell])
            } else {
                ys[t] = out
                h = out
                cell = next
            }
        }
        return (ys.compactMap { $0 }, h, cell)
    }

    /// [batch, 1], nonzero where step t lies within the sequence's length: from lengths known at
    /// import an i64 constant, else a column of the looked-up mask.
    func within(_ lengths: Lengths, step t: Int) throws -> Value {
        switch lengths {
        case .known(let ls):
            let column = HostTensor(shape: [ls.count, 1], ints: ls.map { t < $0 ? 1 : 0 })
            return try c.importer.graphValue(.constant(column), name: c.name + ".within_\(t)")
        case .mask(let m):
            return try c.emit(.slice, [m], ["axis": .int(1), "start": .int(t), "end": .int(t + 1)])
        }
    }

    func outputs() throws -> [ONNXValue] {
        let runs = try reversed.indices.map { try run(direction: $0) }
        // Layout 0: Y [seq, dirs, batch, H], states [dirs, batch, H]; layout 1: Y [batch, seq,
        // dirs, H], states [batch, dirs, H].
        let perDirection = try runs.map { try c.emit(.stack, $0.ys, ["axis": .int(batchMajor ? 1 : 0)]) }
        let y = try c.emit(.stack, perDirection, ["axis": .int(batchMajor ? 2 : 1)])
        let stateAxis: Attributes = ["axis": .int(batchMajor ? 1 : 0)]
        return [.graph(y), .graph(try c.emit(.stack, runs.map(\.h), stateAxis)), .graph(try c.emit(.stack, runs.map(\.cell), stateAxis))]
    }
}
