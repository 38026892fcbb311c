import GraphIR
import Passes
import XCTest

/// The shape of what `Autodiff.differentiate` builds, without running it: which gradients
/// exist, that shared weights accumulate into one output, that every node is well typed,
/// and the errors it reports.
final class GradientStructureTests: XCTestCase {
    let B = Dim.symbol("B")

    /// The verify pass: SSA order, arity, every node's type equal to its shape rule's, names.
    func assertWellTyped(_ g: Graph, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNoThrow(try Pass.verify.run(g), file: file, line: line)
    }

    func count(_ op: OpDef, in g: Graph) -> Int { g.nodes.filter { $0.op == op }.count }

    /// h_{t+1} = tanh(h_t W + x_t U) for five steps sharing W and U; loss = mean of the last h.
    func unrolledRNN(steps: Int) throws -> (Graph, GraphBuilder) {
        let b = GraphBuilder(name: "rnn")
        let xs = b.input("xs", .f32(Shape([B, .known(steps), .known(4)])))
        let w = b.parameter("cell.W", .f32([3, 3]), initializer: ["init": .string("zeros")])
        let u = b.parameter("cell.U", .f32([4, 3]), initializer: ["init": .string("zeros")])
        var h = b.input("h0", .f32(Shape([B, .known(3)])))
        for t in 0..<steps {
            b.scope = "step\(t)"
            let x = try b.emit(.select, [xs], ["axis": .int(1), "index": .int(t)])
            h = try b.emit(.tanh, [try b.emit(.add, [try b.emit(.matmul, [h, w]), try b.emit(.matmul, [x, u])])])
        }
        b.scope = ""
        b.outputs = [("h", h)]
        b.loss = try b.emit(.mean, [h], ["axes": .ints([0, 1])])
        let g = b.finish()
        return (g, b)
    }

    func testSharedWeightGetsOneAccumulatedGradient() throws {
        let (g, _) = try unrolledRNN(steps: 5)
        let forwardCount = g.nodes.count
        let d = try Autodiff.differentiate(g)
        assertWellTyped(d)
        XCTAssertEqual(d.outputs.filter { $0.name == "grad:cell.W" }.count, 1)
        XCTAssertEqual(d.outputs.filter { $0.name == "grad:cell.U" }.count, 1)
        XCTAssertEqual(d.outputs.first?.name, "h", "forward outputs are kept first")
        XCTAssertEqual(d.loss, g.loss)
        XCTAssertEqual(d.type(of: try XCTUnwrap(d.output(named: "grad:cell.W"))), .f32([3, 3]))
        XCTAssertEqual(d.type(of: try XCTUnwrap(d.output(named: "grad:cell.U"))), .f32([4, 3]))
        // The forward part is untouched.
        for i in 0..<forwardCount {
            XCTAssertEqual(d.nodes[i].op, g.nodes[i].op)
            XCTAssertEqual(d.nodes[i].inputs, g.nodes[i].inputs)
        }
        // W and U are each used in 5 steps: their gradients sum 5 matmul terms.
        let gw = try XCTUnwrap(d.output(named: "grad:cell.W"))
        XCTAssertEqual(d[gw].op, .add)
        XCTAssertEqual(additionTerms(d, gw, forwardCount: forwardCount), 5)
        XCTAssertEqual(additionTerms(d, try XCTUnwrap(d.output(named: "grad:cell.U")), forwardCount: forwardCount), 5)
        XCTAssertEqual(count(.add, in: d) - count(.add, in: g), 2 * 4, "only the accumulations add")
        // Gradient nodes are scoped under their forward node's scope.
        XCTAssertTrue(d.nodes[forwardCount...].contains { $0.scope == "step3/grad" })
    }

    /// How many non-add terms an accumulation chain of backward `add` nodes sums.
    func additionTerms(_ g: Graph, _ v: Value, forwardCount: Int) -> Int {
        let n = g[v]
        guard n.op == .add, v.id >= forwardCount, g.type(of: n.inputs[0]) == g.type(of: n.inputs[1]) else { return 1 }
        return n.inputs.map { additionTerms(g, $0, forwardCount: forwardCount) }.reduce(0, +)
    }

    func testRegisteredPassPrintsAndParsesBack() throws {
        let (g, _) = try unrolledRNN(steps: 3)
        let d = try Pipeline(["verify", "autodiff", "verify"]).run(g, .checked)
        XCTAssertNotNil(d.output(named: "grad:cell.W"))
        // Every attribute a gradient rule writes survives the text form.
        let text = IRPrinter.print(d)
        XCTAssertEqual(IRPrinter.print(try IRParser.parse(text, file: "rnn.gir")), text)
    }

    func testBackwardSizeIsLinearInForwardSize() throws {
        let small = try Autodiff.differentiate(try unrolledRNN(steps: 50).0)
        let large = try Autodiff.differentiate(try unrolledRNN(steps: 100).0)
        let smallForward = try unrolledRNN(steps: 50).0.nodes.count
        let largeForward = try unrolledRNN(steps: 100).0.nodes.count
        let perStepSmall = Double(small.nodes.count - smallForward) / 50
        let perStepLarge = Double(large.nodes.count - largeForward) / 100
        XCTAssertEqual(perStepSmall, perStepLarge, accuracy: 0.5)
        XCTAssertLessThan(perStepLarge, 20)
    }

    func testOnlyTrainableParametersOnTheLossPathGetGradients() throws {
        let b = GraphBuilder(name: "p")
        let x = b.input("x", .f32(Shape([B, .known(1), .known(6), .known(6)])))
        let w = b.parameter("conv.weight", .f32([2, 1, 3, 3]), initializer: ["init": .string("zeros")])
        let bias = b.parameter("conv.bias", .f32([2]), initializer: ["init": .string("zeros")])
        let frozen = b.parameter("frozen", .f32([2]), initializer: ["init": .string("zeros"), "trainable": .bool(false)])
        let rm = b.parameter("bn.running_mean", .f32([2]), initializer: ["init": .string("zeros"), "buffer": .bool(true)])
        let rv = b.parameter("bn.running_var", .f32([2]), initializer: ["init": .string("ones"), "buffer": .bool(true)])
        let gamma = b.parameter("bn.weight", .f32([2]), initializer: ["init": .string("ones")])
        let beta = b.parameter("bn.bias", .f32([2]), initializer: ["init": .string("zeros")])
        let unused = b.parameter("head.weight", .f32([2]), initializer: ["init": .string("zeros")])
        let y = try b.emit(.conv2d, [x, w, bias], ["stride": .ints([1, 1]), "padding": .ints([0, 0])])
        let bn = try b.emit(.batchNorm, [y, frozen, beta, rm, rv], ["eps": .float(1e-5)])
        let bn2 = try b.emit(.batchNorm, [bn, gamma, beta, rm, rv], ["eps": .float(1e-5)])
        let labelsOut = try b.emit(.argmax, [try b.emit(.mul, [try b.emit(.sum, [bn2], ["axes": .ints([2, 3])]), unused])], ["axis": .int(1)])
        b.outputs = [("pred", labelsOut)]
        b.loss = try b.emit(.sum, [bn2], ["axes": .ints([0, 1, 2, 3])])
        let g = b.finish()
        let d = try Autodiff.differentiate(g)
        assertWellTyped(d)
        XCTAssertEqual(Set(d.outputs.map(\.name)),
                       ["pred", "grad:conv.weight", "grad:conv.bias", "grad:bn.weight", "grad:bn.bias"])
        // The image needs no gradient, so no conv2d_grad_input is built.
        XCTAssertEqual(count(.conv2dGradInput, in: d), 0)
        XCTAssertEqual(count(.conv2dGradWeight, in: d), 1)
        // beta is used by both batch norms: its gradient is the sum of two.
        XCTAssertEqual(d[try XCTUnwrap(d.output(named: "grad:bn.bias"))].op, .add)
    }

    func testIntegerPathsAndDropoutMasksCarryNoGradient() throws {
        let b = GraphBuilder(name: "greedy")
        let emb = b.parameter("emb", .f32([5, 3]), initializer: ["init": .string("zeros")])
        let fc = b.parameter("fc", .f32([5, 3]), initializer: ["init": .string("zeros")])
        let ids = b.input("ids", .i64(Shape([B])))
        let e = try b.emit(.embedding, [ids, emb])
        let masked = try b.emit(.mul, [e, try b.emit(.dropoutMask, [e], ["p": .float(0.5)])])
        let logits = try b.emit(.matmul, [masked, fc], ["transpose_b": .bool(true)])
        // Greedy feedback: the next ids come from an argmax of this step's logits.
        let next = try b.emit(.argmax, [logits], ["axis": .int(1)])
        let e2 = try b.emit(.embedding, [next, emb])
        let logp = try b.emit(.logSoftmax, [try b.emit(.matmul, [e2, fc], ["transpose_b": .bool(true)])], ["axis": .int(1)])
        let logp1 = try b.emit(.logSoftmax, [logits], ["axis": .int(1)])
        b.loss = try b.emit(.add, [try b.emit(.nllLoss, [logp, ids], ["ignore_index": .int(0)]),
                                   try b.emit(.nllLoss, [logp1, ids], ["ignore_index": .int(0)])])
        let g = b.finish()
        let d = try Autodiff.differentiate(g)
        assertWellTyped(d)
        XCTAssertEqual(Set(d.outputs.map(\.name)), ["grad:emb", "grad:fc"])
        XCTAssertEqual(count(.embeddingGrad, in: d), 2)
        XCTAssertEqual(count(.nllLossGrad, in: d), 2)
        // The mask's input is on the path but gets nothing through the mask: the only terms are
        // the two lookups (e reaches the loss through the masked product only once).
        XCTAssertEqual(d[try XCTUnwrap(d.output(named: "grad:emb"))].op, .add)
        XCTAssertEqual(count(.add, in: d) - count(.add, in: g), 2, "emb and fc accumulate two terms each")
    }

    func testErrorsNameTheProblem() throws {
        let here = SourceLocation(file: "m.swiftgraph", line: 7, column: 5)
        // No loss.
        let g0 = GraphBuilder(name: "noloss").finish()
        XCTAssertThrowsError(try Autodiff.differentiate(g0)) { e in
            XCTAssertTrue("\(e)".contains("no loss"), "\(e)")
        }
        // A loss that is not a scalar.
        let b1 = GraphBuilder(name: "vector")
        let p1 = b1.parameter("w", .f32([3]), initializer: ["init": .string("zeros")])
        b1.location = here
        b1.loss = try b1.emit(.relu, [p1])
        let g1 = b1.finish()
        XCTAssertThrowsError(try Autodiff.differentiate(g1)) { e in
            let msg = "\(e)"
            XCTAssertTrue(msg.contains("scalar") && msg.contains("f32[3]") && msg.contains("m.swiftgraph:7:5"), msg)
        }
        // An op without a gradient rule on the path: named, with its location.
        let b2 = GraphBuilder(name: "norule")
        let x = b2.input("x", .f32([1, 1, 4, 4]))
        let p2 = b2.parameter("w", .f32([1, 1, 4, 4]), initializer: ["init": .string("zeros")])
        b2.location = here
        let r = try b2.emit(.maxpool2dGrad, [p2, x], ["kernel": .ints([1, 1]), "stride": .ints([1, 1]), "padding": .ints([0, 0])])
        b2.location = nil
        b2.loss = try b2.emit(.sum, [r], ["axes": .ints([0, 1, 2, 3])])
        let g2 = b2.finish()
        XCTAssertThrowsError(try Autodiff.differentiate(g2)) { e in
            let msg = "\(e)"
            XCTAssertTrue(msg.contains("maxpool2d_grad") && msg.contains("m.swiftgraph:7:5") && msg.contains("no gradient rule"), msg)
        }
        // The same op off the path (fed only by an input) is fine.
        let b3 = GraphBuilder(name: "offpath")
        let x3 = b3.input("x", .f32([1, 1, 4, 4]))
        let p3 = b3.parameter("w", .f32([1, 1, 4, 4]), initializer: ["init": .string("zeros")])
        let r3 = try b3.emit(.maxpool2dGrad, [x3, x3], ["kernel": .ints([1, 1]), "stride": .ints([1, 1]), "padding": .ints([0, 0])])
        b3.loss = try b3.emit(.sum, [try b3.emit(.mul, [r3, p3])], ["axes": .ints([0, 1, 2, 3])])
        let g3 = b3.finish()
        XCTAssertEqual(try Autodiff.differentiate(g3).outputs.map(\.name), ["grad:w"])
        // Differentiating twice would duplicate gradient outputs.
        XCTAssertThrowsError(try Autodiff.differentiate(try Autodiff.differentiate(g3)))
    }

    func testEveryForwardOpHasARuleAndGradOpsHaveNone() {
        let backwardOnly: Set<String> = ["relu_grad", "conv2d_grad_input", "conv2d_grad_weight", "maxpool2d_grad",
                                         "slice_grad", "select_grad", "embedding_grad", "softmax_grad",
                                         "log_softmax_grad", "nll_loss_grad", "avgpool2d_grad",
                                         "pad_grad", "gather_grad", "lrn_grad", "reduce_extremum_grad",
                                         "maxpool3d_grad", "avgpool3d_grad",
                                         "additive_scores_grad", "additive_scores_dec_grad", "additive_scores_weight_grad", "additive_scores_grad_sum", "additive_scores_weight_grad_sum",
                                         "attention_context_grad",
                                         "lstm_cell_grad", "lstm_cell_state_grad", "relu_grad_sum",
                                         "pooled_conv2d_grad_weight", "recomputed_pooled_conv2d_grad_weight"]
        // Sources have no inputs; argmax gives integers, which carry no gradient.
        let noInputsOrInteger: Set<String> = ["input", "param", "constant", "argmax", "maxpool_indices"]
        // Made by the fusion pass after autodiff, from backward ops among others.
        let fusedAfterAutodiff: Set<String> = ["fused_elementwise", "log_softmax_nll_grad",
                                               // the data-parallel pass's gradient exchange: never differentiated
                                               "allreduce_start", "allreduce_wait", "bucket_slice",
                                               // recompute-pooled-convolutions' forward, whose weight gradient the pass makes with it
                                               "fused_conv2d_maxpool"]
        // Made by the blocked-layout pass, which only inference pipelines run.
        let inferenceOnly: Set<String> = ["reorder_to_blocked", "reorder_from_blocked", "pack_conv_weight", "blocked_conv2d",
                                          "blocked_maxpool2d", "winograd_weight_transform", "winograd_conv2d",
                                          "blocked_conv2d_maxpool"]
        for op in OpRegistry.all {
            if backwardOnly.contains(op.name) || noInputsOrInteger.contains(op.name) || fusedAfterAutodiff.contains(op.name)
                || inferenceOnly.contains(op.name) {
                XCTAssertNil(op.gradient, op.name)
            } else {
                XCTAssertNotNil(op.gradient, "\(op.name) has no gradient rule")
            }
        }
    }
}
