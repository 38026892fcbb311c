import GraphIR

// Normalization layers.

extension ONNXOps {
    static let normalization: [ONNXOpConverter] = [batchNormalization]

    /// BatchNormalization in inference form (opset 14's training_mode 0): scale and bias become
    /// trainable parameters, the running mean and variance buffers, as in graphc's batch_norm.
    static let batchNormalization = ONNXOpConverter("BatchNormalization") { c in
        try c.require("training_mode", 0, "only the inference form; graphc trains with batch statistics itself")
        if c.opset < 7 { try c.require("spatial", 1, "per-channel statistics only") }
        let x = try c.tensor(0)
        guard c.type(x).rank == 4 else { throw c.fail("only [N, C, H, W] inputs are supported, got \(c.type(x))") }
        let eps = c.float("epsilon", default: 1e-5)
        let ins = [x, try c.tensor(1), try c.tensor(2), try c.buffer(3), try c.buffer(4)]
        return [.graph(try c.emit(.batchNorm, ins, ["eps": .float(eps)]))]
    }
}

extension ONNXNodeContext {
    /// Input `i` as state that is not trained (running statistics): a parameter marked `buffer`.
    func buffer(_ i: Int) throws -> Value {
        let v = try value(i)
        return try importer.graphValue(v, name: node.input[i], buffer: true)
    }
}
