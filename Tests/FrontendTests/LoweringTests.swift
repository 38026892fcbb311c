import GraphIR
import XCTest
@testable import Frontend

/// Lowering of small programs: compile-time evaluation, naming, sharing, tensor ops.
final class LoweringTests: XCTestCase {
    func lower(_ source: String, mode: Mode = .train) throws -> (Graph, [LayerSummaryRow]) {
        try Frontend.lowerWithSummary(source: source, file: "t.swiftgraph", options: FrontendOptions(mode: mode))
    }
    func ops(_ g: Graph) -> [String] { g.nodes.map(\.op.name) }
    func count(_ g: Graph, _ op: String) -> Int { g.nodes.filter { $0.op.name == op }.count }
    func type(_ g: Graph, _ output: String) -> String? { g.output(named: output).map { g.type(of: $0).description } }

    func testCompileTimeArithmetic() throws {
        let (g, _) = try lower("""
        let n = 2 * (3 + 4) - 10 / 3 % 2   // 14 - (3 % 2) = 13
        let m = n > 10 && !(n == 12) ? n : 0
        let d = Int(sqrt(Double(16))) + max(1, 2)
        let x = input("x", [batch, d])
        let fc = Linear(m)
        output("y", fc(x))
        """)
        XCTAssertEqual(g.parameterType("fc.weight")?.description, "f32[13,6]")
        XCTAssertEqual(type(g, "y"), "f32[B,13]")
    }

    func testLoopSharesLayersDeclaredOutside() throws {
        let (g, rows) = try lower("""
        let x = input("x", [batch, 4])
        let fc = Linear(4)
        var h = x
        for _ in 0..<3 {
            h = fc(h)
        }
        output("h", h)
        """)
        XCTAssertEqual(g.parameterNames, ["fc.weight", "fc.bias"])
        XCTAssertEqual(count(g, "matmul"), 3)
        XCTAssertEqual(rows.map(\.name), ["fc"], "a shared module has one row")
        XCTAssertEqual(rows[0].parameters, 20)
    }

    func testLayersMadeInsideALoopAreDistinct() throws {
        let (g, rows) = try lower("""
        let x = input("x", [batch, 4])
        var h = x
        for i in 1...3 {
            let layer = Linear(4 * i)
            h = layer(h)
        }
        output("h", h)
        """)
        XCTAssertEqual(g.parameterNames, ["layer.weight", "layer.bias", "layer_1.weight", "layer_1.bias", "layer_2.weight", "layer_2.bias"])
        XCTAssertEqual(g.parameterType("layer_2.weight")?.description, "f32[12,8]")
        XCTAssertEqual(rows.count, 3)
    }

    func testModuleFunctionsNameTheirChildren() throws {
        let (g, rows) = try lower("""
        func Block(_ width: Int, residual: Bool = true) -> Module {
            let fc1 = Linear(width)
            let fc2 = Linear(width)
            return Module { x in
                let y = fc2(relu(fc1(x)))
                if residual { return relu(x + y) }
                return y
            }
        }
        let x = input("x", [batch, 8])
        let encoder = Sequential {
            Block(8)
            Block(8, residual: false)
        }
        output("y", encoder(x))
        """)
        XCTAssertEqual(g.parameterNames, ["encoder.0.fc1.weight", "encoder.0.fc1.bias", "encoder.0.fc2.weight", "encoder.0.fc2.bias",
                                          "encoder.1.fc1.weight", "encoder.1.fc1.bias", "encoder.1.fc2.weight", "encoder.1.fc2.bias"])
        XCTAssertEqual(rows.map(\.name), ["encoder", "encoder.0", "encoder.0.fc1", "encoder.0.fc2", "encoder.1", "encoder.1.fc1", "encoder.1.fc2"])
        XCTAssertEqual(rows[1].type, "Block")
        XCTAssertEqual(rows.map(\.depth), [0, 1, 2, 2, 1, 2, 2])
        // Nodes of the forward closure carry the block's scope.
        let residualAdd = try XCTUnwrap(g.nodes.first { $0.op.name == "add" && $0.scope == "encoder.0" })
        XCTAssertEqual(residualAdd.location?.line, 6)
        XCTAssertEqual(count(g, "add"), 4 + 1, "4 bias adds and one residual add")
    }

    func testHelperFunctionsGiveLayersToTheCaller() throws {
        let (g, _) = try lower("""
        func mlp(_ x: Tensor, _ width: Int) -> Tensor {
            let hidden = Linear(width)
            return relu(hidden(x))
        }
        let x = input("x", [batch, 3])
        output("y", mlp(mlp(x, 5), 2))
        """)
        XCTAssertEqual(g.parameterNames, ["hidden.weight", "hidden.bias", "hidden_1.weight", "hidden_1.bias"])
        XCTAssertEqual(type(g, "y"), "f32[B,2]")
    }

    func testAnonymousLayersAreNamedByType() throws {
        let (g, _) = try lower("""
        let x = input("x", [batch, 3])
        output("y", Linear(2)(x))
        """)
        XCTAssertEqual(g.parameterNames, ["linear.weight", "linear.bias"])
    }

    func testTensorArithmetic() throws {
        let (g, _) = try lower("""
        let x = input("x", [batch, 3])
        let b = input("b", [3])
        output("a", x * 2)
        output("d", x / 4)
        output("s", 1 - x)
        output("p", x + b)
        output("n", -x)
        output("m", x * x)
        """)
        let scales = g.nodes.filter { $0.op.name == "scale" }.compactMap { $0.attributes.float("factor") }
        XCTAssertEqual(scales, [2, 0.25])
        let sub = try XCTUnwrap(g.nodes.first { $0.op.name == "sub" })
        XCTAssertEqual(g[sub.inputs[0]].op.name, "constant")
        XCTAssertEqual(g[sub.inputs[0]].attributes.float("value"), 1)
        XCTAssertEqual(type(g, "p"), "f32[B,3]")
        XCTAssertEqual(count(g, "neg"), 1)
        XCTAssertEqual(count(g, "mul"), 1)
    }

    func testIndexingAndMovement() throws {
        let (g, _) = try lower("""
        let x = input("x", [batch, 5, 6])
        let ids = input("ids", [batch, 7], .int64)
        output("from1", ids[.all, 1...])
        output("step", ids[.all, 3])
        output("last", x[.all, -1])
        output("mid", x[.all, 1..<3, 2...4])
        output("cat", concat([x, x], axis: 1))
        output("cat2", concat(x, x))
        output("stk", stack([x, x, x], axis: 1))
        output("tr", transpose(x))
        output("mm", x.matmul(transpose(x)))
        output("pm", x.permute([2, 0, 1]))
        output("rs", x.reshape([batch, -1, 2]))
        output("fl", x.flatten())
        output("mean", x.mean(axis: 1))
        output("sumall", sum(x))
        output("am", x.argmax(axis: 2))
        output("sm", x.softmax(axis: 1))
        output("dim", Linear(x.shape[2] * 2)(x))
        """)
        XCTAssertEqual(type(g, "from1"), "i64[B,6]")
        XCTAssertEqual(type(g, "step"), "i64[B]")
        XCTAssertEqual(type(g, "last"), "f32[B,6]")
        let last = try XCTUnwrap(g.output(named: "last"))
        XCTAssertEqual(g[last].attributes.int("index"), 4)
        XCTAssertEqual(type(g, "mid"), "f32[B,2,3]")
        XCTAssertEqual(type(g, "cat"), "f32[B,10,6]")
        XCTAssertEqual(type(g, "cat2"), "f32[B,5,12]")
        XCTAssertEqual(type(g, "stk"), "f32[B,3,5,6]")
        XCTAssertEqual(type(g, "tr"), "f32[B,6,5]")
        XCTAssertEqual(type(g, "mm"), "f32[B,5,5]")
        XCTAssertEqual(type(g, "pm"), "f32[6,B,5]")
        XCTAssertEqual(type(g, "rs"), "f32[B,15,2]")
        XCTAssertEqual(type(g, "fl"), "f32[B,30]")
        XCTAssertEqual(type(g, "mean"), "f32[B,6]")
        XCTAssertEqual(type(g, "sumall"), "f32[]")
        XCTAssertEqual(type(g, "am"), "i64[B,5]")
        XCTAssertEqual(type(g, "sm"), "f32[B,5,6]")
        XCTAssertEqual(type(g, "dim"), "f32[B,5,12]")
    }

    func testLossesAndModes() throws {
        let source = """
        let x = input("x", [batch, 4])
        let y = input("y", [batch], .int64)
        let drop = Dropout(0.25)
        let scores = Linear(3)(drop(x))
        if mode == .train {
            loss(crossEntropy(scores, y, ignoring: 0))
        } else {
            output("pred", scores.argmax(axis: 1))
        }
        train(on: .fashionMNIST, metric: .accuracy, epochs: 2, batchSize: 4, lr: 1, momentum: 0.9)
        """
        let (t, _) = try lower(source)
        let l = try XCTUnwrap(t.loss)
        XCTAssertEqual(t[l].op.name, "nll_loss")
        XCTAssertEqual(t[l].attributes.int("ignore_index"), 0)
        XCTAssertEqual(t[t[l].inputs[0]].op.name, "log_softmax")
        XCTAssertEqual(count(t, "dropout_mask"), 1)
        XCTAssertEqual(t.metadata.float("lr"), 1.0)
        XCTAssertEqual(t.metadata.float("momentum"), 0.9)
        XCTAssertEqual(t.metadata.int("batch_size"), 4)
        let (i, _) = try lower(source, mode: .infer)
        XCTAssertNil(i.loss)
        XCTAssertEqual(count(i, "dropout_mask"), 0)
        XCTAssertEqual(type(i, "pred"), "i64[B]")
    }

    func testTrainRejectsUnknownSettings() {
        let d = expectDiagnostic("let x = input(\"x\", [batch, 2])\noutput(\"x\", x)\ntrain(on: .fashionMNIST, epoch: 3)\n")
        XCTAssertEqual(d?.location.line, 3)
        XCTAssertEqual(d?.location.column, 26)
        XCTAssertTrue(d?.message.contains("`train` has no argument labelled `epoch:`; did you mean `epochs:`?") ?? false, d?.message ?? "")
        let o = expectDiagnostic("let x = input(\"x\", [batch, 2])\nloss(x.sum())\ntrain(on: .fashionMNIST, optimizer: .sdg)\n")
        XCTAssertEqual(o?.message, "unknown optimizer `.sdg`; expected one of .adam, .sgd (did you mean `.sgd`?)")
        XCTAssertEqual(o?.location.column, 26)
        var options = FrontendOptions()
        options.datasets.insert("toy")
        XCTAssertNoThrow(try Frontend.lower(source: "let x = input(\"x\", [batch, 2])\nloss(x.sum())\ntrain(on: .toy)\n", file: "t", options: options))
    }

    func testLSTMCellGateOrder() throws {
        let (g, rows) = try lower("""
        let x = input("x", [batch, 3])
        let cell = LSTMCell(3, 2)
        let h0 = input("h", [batch, 2])
        var (h, c) = cell(x, (h0, h0))
        (h, c) = cell(x, (h, c))
        output("h", h)
        output("c", c)
        """)
        XCTAssertEqual(g.parameterNames, ["cell.weight_ih", "cell.weight_hh", "cell.bias_ih", "cell.bias_hh"])
        XCTAssertEqual(g.parameterType("cell.weight_ih")?.description, "f32[8,3]")
        XCTAssertEqual(rows.count, 1)
        // PyTorch's order i, f, g, o: the third quarter goes through tanh, the others sigmoid.
        var checked = 0
        for (i, n) in g.nodes.enumerated() where n.op.name == "slice" {
            let users = g.nodes.filter { $0.inputs.contains(Value(i)) }
            let start = n.attributes.int("start") ?? -1
            XCTAssertEqual(users.map(\.op.name), [start == 4 ? "tanh" : "sigmoid"], "slice at \(start)")
            checked += 1
        }
        XCTAssertEqual(checked, 8)
        XCTAssertEqual(type(g, "c"), "f32[B,2]")
    }

    func testLinearWithDeclaredInput() throws {
        let (g, _) = try lower("""
        let x = input("x", [batch, 6])
        let a = Linear(in: 6, out: 2)
        let b = Linear(2, 3, bias: false)
        output("y", b(a(x)))
        """)
        XCTAssertEqual(g.parameterNames, ["a.weight", "a.bias", "b.weight"])
        XCTAssertEqual(type(g, "y"), "f32[B,3]")
    }

    func testInitOverridesAndBatchNorm() throws {
        let (g, rows) = try lower("""
        let x = input("x", [batch, 2, 5, 5])
        let conv = Conv2d(4, kernel: 3, padding: .same, weightInit: .normal(0.02), biasInit: .ones)
        let bn = BatchNorm2d(eps: 0.001)
        let emb = Embedding(10, 3)
        output("y", bn(conv(x)))
        output("e", emb(input("ids", [batch], .int64)))
        """)
        let w = try XCTUnwrap(g.parameter(named: "conv.weight"))
        XCTAssertEqual(g[w].attributes.string("init"), "normal")
        XCTAssertEqual(g[w].attributes.float("std"), 0.02)
        XCTAssertEqual(g[try XCTUnwrap(g.parameter(named: "conv.bias"))].attributes.string("init"), "ones")
        XCTAssertEqual(g[try XCTUnwrap(g.parameter(named: "bn.running_var"))].attributes.string("init"), "ones")
        XCTAssertEqual(g[try XCTUnwrap(g.parameter(named: "emb.weight"))].attributes.float("std"), 1.0)
        XCTAssertEqual(type(g, "y"), "f32[B,4,5,5]")
        let bnNode = try XCTUnwrap(g.nodes.first { $0.op.name == "batch_norm" })
        XCTAssertEqual(bnNode.attributes.float("eps"), 0.001)
        XCTAssertEqual(rows.first { $0.name == "bn" }?.parameters, 8)
        XCTAssertEqual(rows.first { $0.name == "bn" }?.buffers, 8)
    }

    func testArraysLoopsAndAppend() throws {
        let (g, _) = try lower("""
        let x = input("x", [batch, 4])
        let fc1 = Linear(4), fc2 = Linear(4)
        var outs: [Tensor] = []
        var h = x
        for layer in [fc1, fc2, fc1] {
            h = layer(h)
            outs.append(h)
        }
        let copy = outs
        outs.append(x)
        output("n", stack(copy, axis: 0))
        output("m", stack(outs, axis: 0))
        """)
        XCTAssertEqual(type(g, "n"), "f32[3,B,4]", "binding copies the array, as in Swift")
        XCTAssertEqual(type(g, "m"), "f32[4,B,4]")
        XCTAssertEqual(g.parameters.count, 4)
    }

    func testAttentionReturnsContextAndAlpha() throws {
        let (g, rows) = try lower("""
        let feats = input("f", [batch, 9, 6])
        let h = input("h", [batch, 5])
        let att = AdditiveAttention(encoder: 6, decoder: 5, attention: 4)
        let (context, alpha) = att(feats, h)
        output("context", context)
        output("alpha", alpha)
        """)
        XCTAssertEqual(type(g, "context"), "f32[B,6]")
        XCTAssertEqual(type(g, "alpha"), "f32[B,9]")
        XCTAssertEqual(rows.map(\.name), ["att", "att.encoder_att", "att.decoder_att", "att.full_att"])
        XCTAssertEqual(g.trainableCount, (6 * 4 + 4) + (5 * 4 + 4) + (4 + 1))
    }

    func testDiagnosticRendering() {
        let d = expectDiagnostic("let x = input(\"x\", [batch, 1152])\nlet fc = Linear(in: 1000, out: 600)\noutput(\"y\", fc(x))\n")
        XCTAssertEqual(d?.render(), """
        bad.swiftgraph:3:13: error: Linear `fc`: declared with 1000 input features (weight [600,1000]) but its input f32[B,1152] has 1152
        output("y", fc(x))
                    ^
        note: the layer is declared at line 2, column 10
        """)
    }

    func testSwiftIdioms() throws {
        let (g, _) = try lower("""
        let x = input("x", [batch, 4])
        var outs = [Tensor]()
        let block = Module { (v: Tensor) -> Tensor in
            return relu(v)
        }
        for i in stride(from: 0, to: 6, by: 2) {
            outs.append(block(x) * Double(i))
        }
        for _ in stride(from: 3, through: 1, by: -1) {
            outs.append(x)
        }
        _ = block(x)
        output("y", stack(outs, axis: 0))
        """)
        XCTAssertEqual(type(g, "y"), "f32[6,B,4]")
        let d = expectDiagnostic("let m = Module { (v: Tensor) in relu(v) }\nlet y = m(3)\n")
        XCTAssertTrue(d?.message.contains("input `v` of Module") ?? false, d?.message ?? "")
        XCTAssertEqual(d?.location.column, 11)
    }

    func testErrorsInsideModulesNameTheCall() {
        let d = expectDiagnostic("""
        func Block(_ width: Int) -> Module {
            let fc = Linear(width)
            return Module { x in fc(x) + x }
        }
        let x = input("x", [batch, 4])
        let net = Sequential { Block(4); Block(3) }
        output("y", net(x))
        """)
        XCTAssertEqual(d?.location.line, 3)
        XCTAssertEqual(d?.location.column, 26)
        XCTAssertTrue(d?.message.contains("add: shapes [B,3] and [B,4] do not broadcast") ?? false, d?.message ?? "")
        XCTAssertEqual(d?.notes, ["in Block `net.1` called at line 6, column 34"])
    }
}
