import GraphIR
import Passes
import Runtime
import XCTest

/// Whole small models, differentiated end to end and checked against central differences:
/// the homework's structures at toy sizes.
final class GradientCheckModelTests: XCTestCase {
    let B = Dim.symbol("B")

    /// x [..., in] -> x Wᵀ + b, as the frontend lowers `Linear`.
    func linear(_ c: GradientCheckGraph, _ x: Value, _ name: String, _ inFeatures: Int, _ outFeatures: Int) throws -> Value {
        let bound = 1 / Float(inFeatures).squareRoot()
        let w = c.param(name + ".weight", [outFeatures, inFeatures], c.uniform(outFeatures * inFeatures, -bound, bound))
        let b = c.param(name + ".bias", [outFeatures], c.uniform(outFeatures, -bound, bound))
        return try c.emit(.add, [try c.emit(.matmul, [x, w], ["transpose_b": .bool(true)]), b])
    }

    func names(_ layers: [String]) -> Set<String> { Set(layers.flatMap { [$0 + ".weight", $0 + ".bias"] }) }

    func testTwoLayerMLPWithLogSoftmaxAndNLL() throws {
        let c = GradientCheckGraph("mlp", seed: 3, bindings: ["B": 4])
        let x = c.input("x", .f32(Shape([B, .known(6)])))
        let h = try c.relu(try linear(c, x, "fc1", 6, 8))
        let logp = try c.emit(.logSoftmax, [try linear(c, h, "fc2", 8, 5)], ["axis": .int(1)])
        try c.finishWithNLL(logp, targets: [0, 3, 4, 1], targetShape: Shape([B]))
        try checkGradients(c, eps: 1e-2, expect: names(["fc1", "fc2"]))
    }

    /// The Q2 CNN's op structure (conv p1, relu, pool, conv p0, relu, pool, flatten, three
    /// linears with relu and dropout, log-softmax, NLL) at batch 2 with small widths.
    func testQ2ConvolutionalNetworkStructure() throws {
        let c = GradientCheckGraph("cnn", seed: 5, bindings: ["B": 2])
        let x = c.input("image", .f32(Shape([B, .known(1), .known(14), .known(14)])))
        func conv(_ x: Value, _ name: String, _ cin: Int, _ cout: Int, padding: Int) throws -> Value {
            let bound = 1 / Float(cin * 9).squareRoot()
            let w = c.param(name + ".weight", [cout, cin, 3, 3], c.uniform(cout * cin * 9, -bound, bound))
            let b = c.param(name + ".bias", [cout], c.uniform(cout, -bound, bound))
            return try c.emit(.conv2d, [x, w, b], ["stride": .ints([1, 1]), "padding": .ints([padding, padding])])
        }
        func pool(_ x: Value) throws -> Value { try c.maxpool(x, 2) }
        let block1 = try pool(try c.relu(try conv(x, "conv1", 1, 4, padding: 1)))      // [B,4,7,7]
        let block2 = try pool(try c.relu(try conv(block1, "conv2", 4, 6, padding: 0))) // [B,6,2,2]
        let flat = try c.emit(.reshape, [block2], ["shape": .shape(Shape([B, .known(24)]))])
        let h1 = try c.relu(try linear(c, flat, "fc1", 24, 12))
        let dropped = try c.emit(.mul, [h1, try c.emit(.dropoutMask, [h1], ["p": .float(0.3)])])
        let h2 = try c.relu(try linear(c, dropped, "fc2", 12, 8))
        try c.finishWithLogSoftmaxNLL(try linear(c, h2, "fc3", 8, 5), targets: [2, 4], targetShape: Shape([B]))
        try checkGradients(c, eps: 1e-2, maxPerParameter: 40, expect: names(["conv1", "conv2", "fc1", "fc2", "fc3"]))
    }

    /// An LSTM cell unrolled for 3 steps; `shared` uses one set of weights for every step,
    /// otherwise step t has its own copy `cell<t>` holding the same values.
    func lstm(shared: Bool) throws -> GradientCheckGraph {
        let c = GradientCheckGraph("lstm", seed: 11, bindings: ["B": 2])
        let (inSize, hidden, vocab, steps) = (4, 3, 5, 3)
        let xs = c.input("xs", .f32(Shape([B, .known(steps), .known(inSize)])))
        var h = c.input("h0", .f32(Shape([B, .known(hidden)])))
        var cell = c.input("c0", .f32(Shape([B, .known(hidden)])))
        let shapes = [("w_ih", [4 * hidden, inSize]), ("w_hh", [4 * hidden, hidden]), ("b_ih", [4 * hidden]), ("b_hh", [4 * hidden])]
        let values = shapes.map { c.uniform($0.1.reduce(1, *), -0.5, 0.5) }
        var weights: [String: Value] = [:]
        func weight(_ k: Int, step: Int) -> Value {
            let name = (shared ? "cell" : "cell\(step)") + "." + shapes[k].0
            if let v = weights[name] { return v }
            let v = c.param(name, shapes[k].1, values[k])
            weights[name] = v
            return v
        }
        var outputs: [Value] = []
        for t in 0..<steps {
            c.builder.scope = "decode_step"
            let x = try c.emit(.select, [xs], ["axis": .int(1), "index": .int(t)])
            let gx = try c.emit(.add, [try c.emit(.matmul, [x, weight(0, step: t)], ["transpose_b": .bool(true)]), weight(2, step: t)])
            let gh = try c.emit(.add, [try c.emit(.matmul, [h, weight(1, step: t)], ["transpose_b": .bool(true)]), weight(3, step: t)])
            let gates = try c.emit(.add, [gx, gh])
            func gate(_ k: Int) throws -> Value {
                try c.emit(.slice, [gates], ["axis": .int(1), "start": .int(k * hidden), "end": .int((k + 1) * hidden)])
            }
            let i = try c.emit(.sigmoid, [try gate(0)]), f = try c.emit(.sigmoid, [try gate(1)])
            let g = try c.emit(.tanh, [try gate(2)]), o = try c.emit(.sigmoid, [try gate(3)])
            cell = try c.emit(.add, [try c.emit(.mul, [f, cell]), try c.emit(.mul, [i, g])])
            h = try c.emit(.mul, [o, try c.emit(.tanh, [cell])])
            outputs.append(h)
        }
        c.builder.scope = ""
        let hs = try c.emit(.stack, outputs, ["axis": .int(1)])                     // [B, 3, hidden]
        let logp = try c.emit(.logSoftmax, [try linear(c, hs, "fc", hidden, vocab)], ["axis": .int(-1)])
        // Padding (0) after the caption ends is ignored, as in the captioning loss.
        try c.finishWithNLL(logp, targets: [3, 1, 0, 4, 2, 2], targetShape: Shape([B, .known(steps)]), ignoreIndex: 0)
        return c
    }

    func testUnrolledLSTMSharedWeightsAccumulateOverSteps() throws {
        let weightNames = ["w_ih", "w_hh", "b_ih", "b_hh"]
        let shared = try checkGradients(try lstm(shared: true), eps: 1e-2,
                                        expect: Set(weightNames.map { "cell." + $0 }).union(names(["fc"])))
        // The same model with a copy of the weights per step: the shared gradient is the sum
        // of the per-step gradients.
        let separate = try lstm(shared: false)
        let perStep = try Executor(graph: try Autodiff.differentiate(separate.graph), options: ExecutionOptions())
            .run(feeds: separate.feeds, parameters: separate.store)
        for w in weightNames {
            let total = try XCTUnwrap(shared["cell." + w])
            let steps = try (0..<3).map { t in try XCTUnwrap(perStep["grad:cell\(t).\(w)"]?.floats) }
            for (k, v) in total.enumerated() {
                let sum = steps[0][k] + steps[1][k] + steps[2][k]
                XCTAssertEqual(v, sum, accuracy: 1e-5 * max(1, abs(sum)), "\(w)[\(k)]")
            }
            XCTAssertNotEqual(steps[0], steps[2], "\(w): the steps contribute differently")
        }
    }

    func testEmbeddingThenNLLWithIgnoreIndex() throws {
        let c = GradientCheckGraph("embed", seed: 13, bindings: ["B": 3])
        let ids = c.ids("ids", Shape([B, .known(4)]), [1, 5, 5, 0, 2, 6, 0, 0, 3, 3, 3, 1])
        let table = c.param("embedding.weight", [7, 5], c.uniform(35, -0.1, 0.1))
        let e = try c.emit(.embedding, [ids, table])                                  // [B, 4, 5]
        let logp = try c.emit(.logSoftmax, [try linear(c, try c.emit(.tanh, [e]), "fc", 5, 7)], ["axis": .int(-1)])
        try c.finishWithNLL(logp, targets: [5, 5, 0, 0, 6, 0, 0, 0, 3, 3, 1, 2], targetShape: Shape([B, .known(4)]), ignoreIndex: 0)
        try checkGradients(c, eps: 1e-2, expect: Set(["embedding.weight"]).union(names(["fc"])))
    }

    /// Additive attention over regions, as the Q3 decoder does it per step: relu of the
    /// encoder projection plus the broadcast decoder projection, softmax over the regions,
    /// the context as the weighted sum of regions, then a classifier on [context, h].
    func testAttentionSoftmaxOverRegionsWithBroadcastingAdd() throws {
        let c = GradientCheckGraph("attention", seed: 17, bindings: ["B": 2])
        let (regions, features, hidden, att) = (6, 4, 3, 5)
        let enc = c.input("regions", .f32(Shape([B, .known(regions), .known(features)])))
        let hIn = c.input("h_in", .f32(Shape([B, .known(hidden)])))
        let h = try c.emit(.tanh, [try linear(c, hIn, "decode_step", hidden, hidden)])
        let encAtt = try linear(c, enc, "encoder_att", features, att)                         // [B, R, A]
        let decAtt = try c.emit(.reshape, [try linear(c, h, "decoder_att", hidden, att)], ["shape": .shape(Shape([B, .known(1), .known(att)]))])
        let energy = try c.relu(try c.emit(.add, [encAtt, decAtt]))
        let scores = try c.emit(.reshape, [try linear(c, energy, "full_att", att, 1)], ["shape": .shape(Shape([B, .known(regions)]))])
        let alpha = try c.emit(.softmax, [scores], ["axis": .int(1)])
        let weighted = try c.emit(.mul, [enc, try c.emit(.reshape, [alpha], ["shape": .shape(Shape([B, .known(regions), .known(1)]))])])
        let context = try c.emit(.sum, [weighted], ["axes": .ints([1])])                    // [B, F]
        let joined = try c.emit(.concat, [context, h], ["axis": .int(1)])
        try c.finishWithLogSoftmaxNLL(try linear(c, joined, "fc", features + hidden, 4), targets: [1, 3], targetShape: Shape([B]))
        try checkGradients(c, eps: 1e-2, expect: names(["decode_step", "encoder_att", "decoder_att", "full_att", "fc"]))
    }
}
