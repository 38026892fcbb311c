import GraphIR
import Runtime

// Recurrent layers, unrolled over a sequence length known at import.

extension ONNXOps {
    static let recurrent: [ONNXOpConverter] = [lstm]

    /// A forward LSTM (layout 0: X [seq, batch, input]) unrolled into the cell the DSL's
    /// LSTMCell lowers to, so graphc's fusion makes each step one `lstm_cell`. ONNX orders the
    /// gates i, o, f, c; graphc (as PyTorch) i, f, g, o: the weights, which must be known at
    /// import, are reordered here. Y [seq, 1, batch, H], Y_h and Y_c [1, batch, H].
    /// A zero state of a symbolic batch (PyTorch's exports make h0 and c0 with ConstantOfShape).
    static func isZeroFill(_ v: ONNXValue) -> Bool {
        if case .filled(let t, _) = v { return t.floats.first == 0 }
        return false
    }

    static let lstm = ONNXOpConverter("LSTM") { c in
        let direction = c.string("direction", default: "forward")
        guard direction == "forward" else { throw c.fail("direction \"\(direction)\" is not supported (forward only)") }
        try c.require("layout", 0, "only [seq, batch, input] sequences")
        try c.require("input_forget", 0, "coupled input and forget gates are not supported")
        if c.attribute("clip") != nil { throw c.fail("cell clipping is not supported") }
        if let acts = c.strings("activations"), acts != ["Sigmoid", "Tanh", "Tanh"] {
            throw c.fail("activations \(acts) are not supported (only Sigmoid, Tanh, Tanh)")
        }
        guard !c.has(4) else { throw c.fail("sequence_lens is not supported (every sequence runs the full length)") }
        guard !c.has(7) else { throw c.fail("peephole weights (input P) are not supported") }
        let x = try c.tensor(0)
        let xt = c.type(x)
        guard xt.rank == 3 else { throw c.fail("X must be [seq, batch, input], got \(xt)") }
        let steps = try c.knownSize(x, 0, "sequence")
        let inputSize = try c.knownSize(x, 2, "input")
        guard let w = c.constant(1), let r = c.constant(2), w.shape.count == 3, r.shape.count == 3, w.shape[0] == 1, r.shape[0] == 1 else {
            throw c.fail("W and R must be [1, 4H, input] and [1, 4H, H] tensors known at import")
        }
        let hidden = r.shape[2]
        guard hidden > 0, w.shape[1] == 4 * hidden, r.shape[1] == 4 * hidden, w.shape[2] == inputSize else {
            throw c.fail("W \(w.shape) and R \(r.shape) do not fit X \(xt) with hidden size \(hidden)")
        }
        if let h = c.int("hidden_size"), h != hidden { throw c.fail("hidden_size \(h) differs from R's \(hidden)") }
        // Rows of each gate block reordered from i, o, f, c to i, f, c(g), o.
        func reorder(_ values: [Float], rows: Int, columns: Int) -> [Float] {
            var out: [Float] = []
            out.reserveCapacity(values.count)
            for block in [0, 2, 3, 1] {
                let start = block * rows * columns
                out.append(contentsOf: values[start..<(start + rows * columns)])
            }
            return out
        }
        func weight(_ suffix: String, _ t: HostTensor) throws -> Value {
            try c.importer.graphValue(.constant(t), name: c.name + suffix, trainable: true)
        }
        let wih = try weight(".weight_ih", HostTensor(shape: [4 * hidden, inputSize], floats: reorder(w.floats, rows: hidden, columns: inputSize)))
        let whh = try weight(".weight_hh", HostTensor(shape: [4 * hidden, hidden], floats: reorder(r.floats, rows: hidden, columns: hidden)))
        var bias: [Float] = Array(repeating: 0, count: 8 * hidden)
        if c.has(3) {
            guard let b = c.constant(3), b.shape == [1, 8 * hidden] else { throw c.fail("B must be a [1, \(8 * hidden)] tensor known at import") }
            bias = b.floats
        }
        let bih = try weight(".bias_ih", HostTensor(shape: [4 * hidden], floats: reorder(Array(bias[..<(4 * hidden)]), rows: hidden, columns: 1)))
        let bhh = try weight(".bias_hh", HostTensor(shape: [4 * hidden], floats: reorder(Array(bias[(4 * hidden)...]), rows: hidden, columns: 1)))
        let batch = xt.shape[1]
        func state(_ i: Int) throws -> Value {
            if c.has(i), !isZeroFill(try c.value(i)) {
                let s = try c.tensor(i)
                return try c.emit(.reshape, [s], ["shape": .shape(Shape([batch, .known(hidden)]))])
            }
            let zero = try c.builder.scalar(0)
            let rows = try c.emit(.select, [x], ["axis": .int(0), "index": .int(0)])
            let like = try c.emit(.matmul, [rows, try c.emit(.slice, [wih], ["axis": .int(0), "start": .int(0), "end": .int(hidden)])], ["transpose_b": .bool(true)])
            return try c.emit(.mul, [like, zero])
        }
        var h = try state(5), cell = try state(6)
        let tb: Attributes = ["transpose_b": .bool(true)]
        var hs: [Value] = []
        for t in 0..<steps {
            let xs = try c.emit(.select, [x], ["axis": .int(0), "index": .int(t)])
            let gi = try c.emit(.add, [try c.emit(.matmul, [xs, wih], tb), bih])
            let gh = try c.emit(.add, [try c.emit(.matmul, [h, whh], tb), bhh])
            let gates = try c.emit(.add, [gi, gh])
            func gate(_ k: Int) throws -> Value {
                try c.emit(.slice, [gates], ["axis": .int(1), "start": .int(k * hidden), "end": .int((k + 1) * hidden)])
            }
            let i = try c.emit(.sigmoid, [try gate(0)]), f = try c.emit(.sigmoid, [try gate(1)])
            let g = try c.emit(.tanh, [try gate(2)]), o = try c.emit(.sigmoid, [try gate(3)])
            cell = try c.emit(.add, [try c.emit(.mul, [f, cell]), try c.emit(.mul, [i, g])])
            h = try c.emit(.mul, [o, try c.emit(.tanh, [cell])])
            hs.append(h)
        }
        let stateShape: Attributes = ["shape": .shape(Shape([.known(1), batch, .known(hidden)]))]
        let y = try c.emit(.reshape, [try c.emit(.stack, hs, ["axis": .int(0)])],
                           ["shape": .shape(Shape([.known(steps), .known(1), batch, .known(hidden)]))])
        return [.graph(y), .graph(try c.emit(.reshape, [h], stateShape)), .graph(try c.emit(.reshape, [cell], stateShape))]
    }
}
