import GraphIR

/// `lstm_cell(gates, c)` (the importer makes one per step of an ONNX LSTM) -> its gate math in
/// ONNX ops: the four gate blocks sliced from the last axis, i, f, o through Sigmoid and g
/// through Tanh, c' = f c + i g, h = o tanh c', and the row [h | c' | i | f | g | o | tanh c']
/// concatenated as graphc lays it out.
public enum ExportLSTMCell: ONNXExportRule {
    public static let op = OpDef.lstmCell
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let c = n.inputType(1)
        guard let h = c.shape.dims.last?.value else { throw ONNXExportProblem("the cell state's last dimension must be known") }
        let axis = c.rank - 1
        let axes = w.int64s([axis], "axes")
        func block(_ k: Int) -> String {
            w.add("Slice", [n.input(0), w.int64s([k * h], "starts"), w.int64s([(k + 1) * h], "ends"), axes])
        }
        let i = w.add("Sigmoid", [block(0)]), f = w.add("Sigmoid", [block(1)])
        let g = w.add("Tanh", [block(2)]), o = w.add("Sigmoid", [block(3)])
        let next = w.add("Add", [w.add("Mul", [f, n.input(1)]), w.add("Mul", [i, g])])
        let t = w.add("Tanh", [next])
        let hidden = w.add("Mul", [o, t])
        w.add("Concat", [hidden, next, i, f, g, o, t], output: n.output, attributes: [ONNXAttribute.int("axis", axis)])
    }
}
