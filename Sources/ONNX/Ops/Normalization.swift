import GraphIR

// Normalization layers.

extension ONNXOps {
    static let normalization: [ONNXOpConverter] = [batchNormalization]

    /// BatchNormalization in inference form (opset 14's training_mode 0): scale and bias become
    /// trainable parameters, the running mean and variance buffers, as in graphc's batch_norm.
    /// With training_mode 1 it normalises by the batch's own statistics (`batchStatistics`).
    static let batchNormalization = ONNXOpConverter("BatchNormalization") { c in
        if c.int("training_mode", default: 0) != 0 { return try batchStatistics(c) }
        if c.opset < 7 { try c.require("spatial", 1, "per-channel statistics only") }
        let x = try c.tensor(0)
        guard c.type(x).rank == 4 else { throw c.fail("only [N, C, H, W] inputs are supported, got \(c.type(x))") }
        let eps = c.float("epsilon", default: 1e-5)
        let ins = [x, try c.tensor(1), try c.tensor(2), try c.buffer(3), try c.buffer(4)]
        return [.graph(try c.emit(.batchNorm, ins, ["eps": .float(eps)]))]
    }

    /// training_mode 1, as ONNX defines it: with the mean m and the (biased) variance v of x
    /// over every axis but the channel (axis 1), y = (x - m) / sqrt(v + epsilon) * scale + B,
    /// and the running statistics come out updated: mean * momentum + m * (1 - momentum),
    /// likewise the variance. Composed of graphc's reductions and elementwise ops, so it is
    /// differentiable as they are.
    static func batchStatistics(_ c: ONNXNodeContext) throws -> [ONNXValue] {
        let x = try c.tensor(0)
        let shape = c.type(x).shape
        guard shape.rank >= 2 else { throw c.fail("the input must have a channel axis, got \(c.type(x))") }
        let eps = c.float("epsilon", default: 1e-5), momentum = c.float("momentum", default: 0.9)
        let axes = Array(0..<shape.rank).filter { $0 != 1 }
        let reduce: Attributes = ["axes": .ints(axes), "keepdims": .bool(true)]
        // [C] as [C, 1, ...], which broadcasts along axis 1 of x.
        let channel = Shape([shape[1]] + Array(repeating: .known(1), count: shape.rank - 2))
        func perChannel(_ v: Value) throws -> Value { try c.emit(.reshape, [v], ["shape": .shape(channel)]) }
        let mean = try c.emit(.mean, [x], reduce)
        let centred = try c.emit(.sub, [x, mean])
        let variance = try c.emit(.mean, [try c.emit(.mul, [centred, centred])], reduce)
        let std = try c.emit(.sqrt, [try c.emit(.add, [variance, try c.builder.scalar(eps)])])
        let normalised = try c.emit(.div, [centred, std])
        let y = try c.emit(.add, [try c.emit(.mul, [normalised, try perChannel(try c.tensor(1))]), try perChannel(try c.tensor(2))])
        func running(_ input: Int, _ batch: Value) throws -> Value {
            let flat = try c.emit(.reshape, [batch], ["shape": .shape(Shape([shape[1]]))])
            let kept = try c.emit(.scale, [try c.tensor(input)], ["factor": .float(momentum)])
            return try c.emit(.add, [kept, try c.emit(.scale, [flat], ["factor": .float(1 - momentum)])])
        }
        return [.graph(y), .graph(try running(3, mean)), .graph(try running(4, variance))]
    }
}

extension ONNXNodeContext {
    /// Input `i` as state that is not trained (running statistics): a parameter marked `buffer`.
    func buffer(_ i: Int) throws -> Value {
        let v = try value(i)
        return try importer.graphValue(v, name: node.input[i], buffer: true)
    }
}
