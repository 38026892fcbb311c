import GraphIR
import Passes
import XCTest

/// One valid use of every op: its input types and a value for each attribute it declares.
/// A new op needs an entry here, which the registry walks below check.
struct OpExample {
    var inputs: [TensorType]
    var attributes: Attributes
    /// The declared result type of a source op (inputs and parameters are not inferred).
    var declared: TensorType? = nil
}

let window: Attributes = ["stride": .ints([1, 1]), "padding": .ints([1, 1]), "dilation": .ints([1, 1]), "groups": .int(1)]
let pool: Attributes = ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0]),
                         "dilation": .ints([1, 1]), "ceil_mode": .bool(false)]
let padExample: Attributes = ["pads": .ints([0, 1, 1, 2]), "mode": .string("reflect"), "pad_value": .float(0)]
let lrnExample: Attributes = ["size": .int(3), "alpha": .float(1e-4), "beta": .float(0.75), "bias": .float(1)]
let avgpool: Attributes = ["kernel": .ints([3, 3]), "stride": .ints([2, 2]), "padding": .ints([1, 0, 1, 1]),
                           "ceil_mode": .bool(true), "count_include_pad": .bool(false)]
let pool3d: Attributes = ["kernel": .ints([2, 3, 2]), "stride": .ints([2, 2, 1]), "padding": .ints([1, 0, 1, 0, 1, 1]),
                          "dilation": .ints([1, 1, 1]), "ceil_mode": .bool(true)]
let avgpool3d: Attributes = {
    var a = pool3d
    a["count_include_pad"] = .bool(true)
    return a
}()

let opExamples: [String: OpExample] = {
    let x = TensorType.f32([2, 3])
    var e: [String: OpExample] = [
        "input": OpExample(inputs: [], attributes: ["name": .string("x"), "fed": .shape(Shape(known: [2, 5, 3])), "reduce": .string("mean"),
                                                    "axes": .ints([1]), "keepdims": .bool(false)], declared: .f32([2, 3])),
        "param": OpExample(inputs: [], attributes: [
            "name": .string("w"), "init": .string("uniform"), "bound": .float(0.5), "low": .float(-1), "high": .float(1),
            "mean": .float(0), "std": .float(0.1), "value": .float(2), "buffer": .bool(false), "trainable": .bool(true),
        ], declared: .f32([3])),
        "constant": OpExample(inputs: [], attributes: ["value": .float(1.5)]),
        "dropout_mask": OpExample(inputs: [x], attributes: ["p": .float(0.25)]),
        "scale": OpExample(inputs: [x], attributes: ["factor": .float(2)]),
        "clamp": OpExample(inputs: [x], attributes: ["min": .float(-1), "max": .float(1)]),
        "sum": OpExample(inputs: [x], attributes: ["axes": .ints([1]), "keepdims": .bool(true)]),
        "mean": OpExample(inputs: [x], attributes: ["axes": .ints([-1]), "keepdims": .bool(false)]),
        "reduce_like": OpExample(inputs: [x, .f32([3])], attributes: [:]),
        "broadcast_like": OpExample(inputs: [.f32([3]), x], attributes: [:]),
        "argmax": OpExample(inputs: [x], attributes: ["axis": .int(1), "select_last": .bool(true)]),
        "matmul": OpExample(inputs: [x, .f32([3, 4])], attributes: ["transpose_a": .bool(false), "transpose_b": .bool(false)]),
        "conv2d": OpExample(inputs: [.f32([1, 2, 5, 5]), .f32([4, 2, 3, 3]), .f32([4])],
                            attributes: ["stride": .ints([1, 1]), "padding": .ints([1, 1]), "dilation": .ints([1, 1]),
                                         "groups": .int(1), "form": .string("im2col")]),
        "conv2d_grad_input": OpExample(inputs: [.f32([1, 4, 5, 5]), .f32([4, 2, 3, 3]), .f32([1, 2, 5, 5])], attributes: window),
        "conv2d_grad_weight": OpExample(inputs: [.f32([1, 4, 5, 5]), .f32([1, 2, 5, 5]), .f32([4, 2, 3, 3])], attributes: window),
        "maxpool2d": OpExample(inputs: [.f32([1, 2, 4, 4])], attributes: pool),
        "maxpool2d_grad": OpExample(inputs: [.f32([1, 2, 2, 2]), .f32([1, 2, 4, 4])], attributes: {
            var a = pool
            a["activation"] = .string("relu")
            return a
        }()),
        "relu_grad_sum": OpExample(inputs: [.f32([1, 2, 2, 2]), .f32([1, 2, 2, 2])], attributes: ["axes": .ints([0, 2, 3])]),
        "pooled_conv2d_grad_weight": OpExample(inputs: [.f32([1, 4, 2, 3]), .f32([1, 4, 4, 6]), .f32([1, 2, 4, 6]), .f32([4, 2, 3, 3])],
                                               attributes: ["stride": .ints([1, 1]), "padding": .ints([1, 1]), "dilation": .ints([1, 1]),
                                                            "activation": .string("relu")]),
        "fused_conv2d_maxpool": OpExample(inputs: [.f32([1, 2, 4, 6]), .f32([4, 2, 3, 3]), .f32([4])],
                                          attributes: ["stride": .ints([1, 1]), "padding": .ints([1, 1]), "dilation": .ints([1, 1]),
                                                       "activation": .string("relu")]),
        "recomputed_pooled_conv2d_grad_weight": OpExample(inputs: [.f32([1, 4, 2, 3]), .f32([1, 2, 4, 6]), .f32([4, 2, 3, 3]), .f32([4])],
                                                          attributes: ["stride": .ints([1, 1]), "padding": .ints([1, 1]), "dilation": .ints([1, 1]),
                                                                       "activation": .string("relu")]),
        "batch_norm": OpExample(inputs: [.f32([2, 3, 4, 4])] + Array(repeating: .f32([3]), count: 4), attributes: ["eps": .float(1e-5)]),
        "reshape": OpExample(inputs: [x], attributes: ["shape": .shape([3, 2])]),
        "reshape_like": OpExample(inputs: [x, .f32([6])], attributes: [:]),
        "transpose": OpExample(inputs: [x], attributes: ["perm": .ints([1, 0])]),
        "concat": OpExample(inputs: [x, x], attributes: ["axis": .int(0)]),
        "slice": OpExample(inputs: [x], attributes: ["axis": .int(1), "start": .int(0), "end": .int(2)]),
        "select": OpExample(inputs: [x], attributes: ["axis": .int(1), "index": .int(2)]),
        "slice_grad": OpExample(inputs: [.f32([2, 2]), x], attributes: ["axis": .int(1), "start": .int(0), "end": .int(2)]),
        "select_grad": OpExample(inputs: [.f32([2]), x], attributes: ["axis": .int(1), "index": .int(2)]),
        "stack": OpExample(inputs: [x, x], attributes: ["axis": .int(0)]),
        "embedding": OpExample(inputs: [.i64([2, 3]), .f32([10, 4])], attributes: [:]),
        "embedding_grad": OpExample(inputs: [.f32([2, 3, 4]), .i64([2, 3]), .f32([10, 4])], attributes: [:]),
        "softmax": OpExample(inputs: [x], attributes: ["axis": .int(-1)]),
        "log_softmax": OpExample(inputs: [x], attributes: ["axis": .int(1)]),
        "softmax_grad": OpExample(inputs: [x, x], attributes: ["axis": .int(1)]),
        "log_softmax_grad": OpExample(inputs: [x, x], attributes: ["axis": .int(1)]),
        "nll_loss": OpExample(inputs: [x, .i64([2])], attributes: ["ignore_index": .int(-100)]),
        "nll_loss_grad": OpExample(inputs: [.f32([]), x, .i64([2])], attributes: ["ignore_index": .int(-100)]),
        "log_softmax_nll_grad": OpExample(inputs: [.f32([]), x, .i64([2])], attributes: ["ignore_index": .int(0)]),
        "fused_matmul": OpExample(inputs: [x, .f32([4, 3]), .f32([4])],
                                  attributes: ["transpose_a": .bool(false), "transpose_b": .bool(true), "activation": .string("relu")]),
        "fused_conv2d": OpExample(inputs: [.f32([1, 2, 5, 5]), .f32([4, 2, 3, 3])],
                                  attributes: ["stride": .ints([2, 2]), "padding": .ints([0, 0]), "dilation": .ints([1, 1]),
                                               "groups": .int(1), "activation": .string("none"), "form": .string("direct")]),
        "fused_elementwise": OpExample(inputs: [.f32([2, 8])], attributes: [
            "program": .ints([0, 0, 0]), "expr": .string("r1 = relu(r0)"), "offsets": .ints([4]), "width": .int(4),
        ]),
        "contract_rows": OpExample(inputs: [.f32([5, 3]), .f32([5, 4])], attributes: [:]),
        "lstm_cell": OpExample(inputs: [.f32([2, 8]), .f32([2, 2])], attributes: [:]),
        "lstm_cell_grad": OpExample(inputs: [.f32([2, 14]), .f32([2, 14]), .f32([2, 2])], attributes: [:]),
        "lstm_cell_state_grad": OpExample(inputs: [.f32([2, 14]), .f32([2, 14])], attributes: [:]),
        "additive_scores": OpExample(inputs: [.f32([2, 5, 3]), .f32([2, 3]), .f32([1, 3])], attributes: [:]),
        "additive_scores_grad_sum": OpExample(inputs: [.f32([2, 5, 3]), .f32([1, 3]), .f32([2, 5, 1]), .f32([2, 3]), .f32([2, 5, 1]), .f32([2, 3])], attributes: [:]),
        "additive_scores_weight_grad_sum": OpExample(inputs: [.f32([2, 5, 3]), .f32([2, 5, 1]), .f32([2, 3]), .f32([2, 5, 1]), .f32([2, 3])], attributes: [:]),
        "additive_scores_grad": OpExample(inputs: [.f32([2, 5, 1]), .f32([2, 5, 3]), .f32([2, 3]), .f32([1, 3]), .f32([2, 5, 3])],
                                          attributes: [:]),
        "additive_scores_dec_grad": OpExample(inputs: [.f32([2, 5, 1]), .f32([2, 5, 3]), .f32([2, 3]), .f32([1, 3])], attributes: [:]),
        "additive_scores_weight_grad": OpExample(inputs: [.f32([2, 5, 1]), .f32([2, 5, 3]), .f32([2, 3])], attributes: [:]),
        "attention_context": OpExample(inputs: [.f32([2, 5]), .f32([2, 5, 3])], attributes: [:]),
        "attention_context_grad": OpExample(inputs: [.f32([2, 3]), .f32([2, 5]), .f32([2, 5, 3])], attributes: [:]),
        // Ops for ONNX models
        "avgpool2d": OpExample(inputs: [.f32([1, 2, 5, 5])], attributes: avgpool),
        "avgpool2d_grad": OpExample(inputs: [.f32([1, 2, 3, 3]), .f32([1, 2, 5, 5])], attributes: avgpool),
        "leaky_relu": OpExample(inputs: [x], attributes: ["alpha": .float(0.1)]),
        "pow": OpExample(inputs: [x], attributes: ["exponent": .float(3)]),
        "hard_sigmoid": OpExample(inputs: [x], attributes: ["alpha": .float(0.2), "beta": .float(0.5)]),
        "pad": OpExample(inputs: [x], attributes: padExample),
        "pad_grad": OpExample(inputs: [.f32([3, 6]), x], attributes: padExample),
        "gather": OpExample(inputs: [x, .i64([4])], attributes: ["axis": .int(1)]),
        "gather_grad": OpExample(inputs: [.f32([2, 4]), .i64([4]), x], attributes: ["axis": .int(1)]),
        "lrn": OpExample(inputs: [.f32([1, 4, 3, 3])], attributes: lrnExample),
        "lrn_grad": OpExample(inputs: [.f32([1, 4, 3, 3]), .f32([1, 4, 3, 3])], attributes: lrnExample),
        "conv_transpose2d": OpExample(inputs: [.f32([1, 4, 5, 5]), .f32([4, 1, 3, 3]), .f32([2])],
                                      attributes: ["stride": .ints([2, 2]), "padding": .ints([1, 1]), "dilation": .ints([1, 1]),
                                                   "groups": .int(2), "output_padding": .ints([1, 0])]),
        "cast": OpExample(inputs: [x], attributes: ["to": .string("i64")]),
        "reduce_max": OpExample(inputs: [x], attributes: ["axes": .ints([1]), "keepdims": .bool(true)]),
        "reduce_min": OpExample(inputs: [x], attributes: ["axes": .ints([0, 1]), "keepdims": .bool(false)]),
        "reduce_extremum_grad": OpExample(inputs: [.f32([2, 1]), x, .f32([2, 1])], attributes: ["axes": .ints([1]), "keepdims": .bool(true)]),
        "maxpool3d": OpExample(inputs: [.f32([1, 2, 5, 6, 4])], attributes: pool3d),
        "maxpool3d_grad": OpExample(inputs: [.f32([1, 2, 3, 3, 5]), .f32([1, 2, 5, 6, 4])], attributes: pool3d),
        "avgpool3d": OpExample(inputs: [.f32([1, 2, 5, 6, 4])], attributes: avgpool3d),
        "avgpool3d_grad": OpExample(inputs: [.f32([1, 2, 3, 3, 5]), .f32([1, 2, 5, 6, 4])], attributes: avgpool3d),
        "maxpool_indices": OpExample(inputs: [.f32([1, 2, 4, 4])], attributes: {
            var a = pool
            a["column_major"] = .bool(true)
            return a
        }()),
        "where": OpExample(inputs: [.i64([2, 1]), x, .f32([3])], attributes: [:]),
        "allreduce_start": OpExample(inputs: [x, .f32([4])], attributes: ["bucket": .int(0)]),
        "allreduce_wait": OpExample(inputs: [.f32([10])], attributes: ["bucket": .int(0)]),
        "bucket_slice": OpExample(inputs: [.f32([10])], attributes: ["start": .int(4), "shape": .shape([2, 3])]),
        "reorder_to_blocked": OpExample(inputs: [.f32([1, 16, 3, 3])], attributes: [:]),
        "reorder_from_blocked": OpExample(inputs: [.f32([1, 1, 3, 3, 16])], attributes: [:]),
        "pack_conv_weight": OpExample(inputs: [.f32([16, 2, 3, 3])], attributes: ["in_block": .int(1)]),
        "blocked_conv2d": OpExample(inputs: [.f32([1, 2, 5, 5]), .f32([1, 2, 3, 3, 1, 16]), .f32([16]), .f32([])],
                                    attributes: ["stride": .ints([1, 1]), "padding": .ints([1, 1]), "activation": .string("relu")]),
        "blocked_conv2d_maxpool": OpExample(inputs: [.f32([1, 2, 5, 5]), .f32([1, 2, 3, 3, 1, 16]), .f32([16]), .f32([])],
                                            attributes: ["stride": .ints([1, 1]), "padding": .ints([1, 1]), "activation": .string("relu")]),
        "winograd_weight_transform": OpExample(inputs: [.f32([16, 32, 3, 3])], attributes: [:]),
        "winograd_conv2d": OpExample(inputs: [.f32([1, 2, 5, 5, 16]), .f32([36, 1, 32, 16]), .f32([16]), .f32([]), .f32([1, 1, 5, 5, 16])],
                                     attributes: ["stride": .ints([1, 1]), "padding": .ints([1, 1]), "activation": .string("relu")]),
        "blocked_maxpool2d": OpExample(inputs: [.f32([1, 1, 4, 4, 16])], attributes: {
            var a = pool
            a["dilation"] = nil; a["ceil_mode"] = nil
            return a
        }()),
    ]
    for name in ["relu", "sigmoid", "tanh", "exp", "log", "neg", "sqrt", "abs", "erf"] { e[name] = OpExample(inputs: [x], attributes: [:]) }
    for name in ["add", "sub", "mul", "div", "relu_grad", "maximum", "minimum", "power"] { e[name] = OpExample(inputs: [x, x], attributes: [:]) }
    return e
}()

/// A graph of one input per example input (`x0`, `x1`, ...) and the op, its result the output.
func exampleGraph(_ op: OpDef, _ example: OpExample, attributes: Attributes? = nil) throws -> Graph {
    let b = GraphBuilder(name: "example")
    let inputs = example.inputs.enumerated().map { i, t in
        b.append(Node(op: .input, inputs: [], attributes: ["name": .string("x\(i)")], type: t))
    }
    let type = try example.declared ?? op.shape(ShapeQuery(inputs: example.inputs, attributes: example.attributes))
    let y = b.append(Node(op: op, inputs: inputs, attributes: attributes ?? example.attributes, type: type))
    b.outputs = [("y", y)]
    return b.finish()
}

final class OpDeclarationTests: XCTestCase {
    func example(_ op: OpDef) throws -> OpExample {
        try XCTUnwrap(opExamples[op.name], "no example for \(op.name): add one to opExamples")
    }

    // MARK: Attribute schemas

    func testEveryExampleGivesEveryDeclaredAttributeAndNothingElse() throws {
        XCTAssertEqual(Set(opExamples.keys), Set(OpRegistry.all.map(\.name)))
        for op in OpRegistry.all {
            let names = op.attributes.map(\.name)
            XCTAssertEqual(Set(names).count, names.count, "\(op.name) declares an attribute twice")
            XCTAssertEqual(Set(try example(op).attributes.map(\.key)), Set(names), op.name)
        }
    }

    /// Print, parse, same attributes, and the verifier accepts the graph; an extra unknown
    /// attribute is rejected by both the verifier and the parser, naming op and attribute.
    func testEverySchemaRoundTripsThroughTheIRText() throws {
        for op in OpRegistry.all {
            let ex = try example(op)
            let g = try exampleGraph(op, ex)
            let text = IRPrinter.print(g)
            let parsed = try IRParser.parse(text, file: "\(op.name).gir")
            XCTAssertEqual(parsed.nodes.last?.attributes, ex.attributes, op.name)
            XCTAssertEqual(IRPrinter.print(parsed), text, op.name)
            XCTAssertNoThrow(try Verifier.check(parsed), op.name)

            var extra = ex.attributes
            extra["bogus"] = .int(1)
            let bad = try exampleGraph(op, ex, attributes: extra)
            assertContains(errorMessage { try Verifier.check(bad) },
                           ["verify: \(op.name) %\(bad.nodes.count - 1)", "unknown attribute 'bogus'"])
            let line = bad.nodes.count + 1  // the header, then one line per node
            assertContains(errorMessage { _ = try IRParser.parse(IRPrinter.print(bad), file: "bad.gir") },
                           ["bad.gir:\(line):", "\(op.name): unknown attribute 'bogus'"])
        }
    }

    func testMissingRequiredAndIllTypedAttributesAreRejected() throws {
        for op in OpRegistry.all {
            let ex = try example(op)
            for spec in op.attributes {
                var attrs = ex.attributes
                attrs[spec.name] = spec.type == .bool ? .int(1) : .bool(true)
                let wrongType = errorMessage { try checkAttributes(attrs, of: op) }
                XCTAssertTrue(wrongType.hasPrefix("attribute '\(spec.name)' must be \(spec.expected), got "), "\(op.name): \(wrongType)")
                guard spec.isRequired else { continue }
                attrs[spec.name] = nil
                XCTAssertEqual(errorMessage { try checkAttributes(attrs, of: op) }, "missing attribute '\(spec.name)' (\(spec.expected))")
            }
        }
    }

    func testRangesAndAllowedValues() {
        func problem(_ op: OpDef, _ attrs: Attributes) -> String { errorMessage { try checkAttributes(attrs, of: op) } }
        XCTAssertEqual(problem(.dropoutMask, ["p": .float(1)]), "attribute 'p' must be a float, in [0, 1), got 1.0")
        XCTAssertEqual(problem(.conv2d, ["stride": .ints([1, 0]), "padding": .ints([0, 0])]),
                       "attribute 'stride' must be an integer list, each element at least 1, got [1,0]")
        XCTAssertEqual(problem(.fusedMatmul, ["activation": .string("sideways")]),
                       "attribute 'activation' must be a string, one of \"none\", \"relu\", got \"sideways\"")
        XCTAssertEqual(problem(.param, ["name": .string("")]), "attribute 'name' must be a non-empty string, got \"\"")
        XCTAssertEqual(problem(.relu, ["axis": .int(0)]), "unknown attribute 'axis' (relu takes no attributes)")
        // An integer is a float value; the memory plan's annotations fit every op.
        XCTAssertNoThrow(try checkAttributes(["factor": .int(2), "arena": .ints([0, 64]), "in_place": .string("%0")], of: .scale))
        XCTAssertEqual(problem(.relu, ["arena": .ints([-1, 64])]), "attribute 'arena' must be an integer list, each element at least 0, got [-1,64]")
    }

    /// A hand-edited `.gir` with a bad attribute: the error points at the attribute's line
    /// and column and says what the op expected.
    func testGirFileWithBadAttributeIsALocatedError() {
        func girError(_ node: String) -> String {
            errorMessage {
                _ = try IRParser.parse("""
                graph @g {
                  %0 = input() {name="x"} : f32[1,2,5,5]
                  %1 = param() {name="w", init="zeros"} : f32[4,2,3,3]
                \(node)
                }
                """, file: "edited.gir")
            }
        }
        let unknown = girError("  %2 = conv2d(%0, %1) {stride=[1,1], padding=[0,0], mode=\"sideways\"}")
        assertContains(unknown, ["edited.gir:4:53:", "conv2d: unknown attribute 'mode' (conv2d takes stride, padding, dilation, groups, form)"])
        let illTyped = girError("  %2 = conv2d(%0, %1) {stride=1.5, padding=[0,0]}")
        assertContains(illTyped, ["edited.gir:4:24:", "conv2d: attribute 'stride' must be an integer list, each element at least 1, got 1.5"])
        let missing = girError("  %2 = conv2d(%0, %1) {padding=[0,0]}")
        assertContains(missing, ["edited.gir:4:8:", "conv2d: missing attribute 'stride'"])
        let badEnum = girError("  %2 = fused_conv2d(%0, %1) {stride=[1,1], padding=[0,0], activation=\"sideways\"}")
        assertContains(badEnum, ["edited.gir:4:59:", "activation' must be a string, one of \"none\", \"relu\", got \"sideways\""])
    }

    /// The verifier checks graphs built in memory too, and points at the node's source.
    func testVerifierLocatesAttributeErrorsAtTheNode() {
        let b = GraphBuilder(name: "g")
        let x = b.append(Node(op: .input, inputs: [], attributes: ["name": .string("x")], type: .f32([4])))
        b.append(Node(op: .scale, inputs: [x], attributes: ["factor": .string("two")], type: .f32([4]),
                      location: SourceLocation(file: "m.swiftgraph", line: 3, column: 9)))
        XCTAssertEqual(errorMessage { try Verifier.check(b.finish()) }.components(separatedBy: "\n").first,
                       "m.swiftgraph:3:9: error: verify: scale %1: attribute 'factor' must be a float, got \"two\"")
    }

    // MARK: FLOP counts

    func cost(_ op: OpDef, _ inputs: [[Int]], _ output: [Int], _ attributes: Attributes = [:]) -> Double {
        op.flops(CostQuery(inputs: inputs, output: output, attributes: attributes))
    }

    func testEveryOpHasAFlopCount() throws {
        for op in OpRegistry.all {
            let ex = try example(op)
            let out = try ex.declared ?? op.shape(ShapeQuery(inputs: ex.inputs, attributes: ex.attributes))
            let shapes = try ex.inputs.map { try XCTUnwrap($0.shape.resolved([:])) }
            let flops = op.flops(CostQuery(inputs: shapes, output: try XCTUnwrap(out.shape.resolved([:])), attributes: ex.attributes))
            XCTAssertTrue(flops.isFinite && flops >= 0, "\(op.name): \(flops)")
            let elements = Double(out.shape.knownCount ?? 0)
            switch op.spec {
            case is UnaryElementwiseOp.Type where op != .clamp && op != .hardSigmoid, is BinaryElementwiseOp.Type:
                XCTAssertEqual(flops, elements, "\(op.name): one operation per element")
            default:
                if op.fusion == .injective || op.fusion == .source && op != .dropoutMask { XCTAssertEqual(flops, 0, op.name) }
                if op.fusion == .contraction { XCTAssertGreaterThan(flops, 0, op.name) }
            }
        }
    }

    func testContractionCountsAreTwoPerMultiplyAdd() {
        // [2,3] x [3,4]: 2·M·N·K; transposed a [3,2] has K on its first axis.
        XCTAssertEqual(cost(.matmul, [[2, 3], [3, 4]], [2, 4]), 2 * 2 * 4 * 3)
        XCTAssertEqual(cost(.matmul, [[3, 2], [3, 4]], [2, 4], ["transpose_a": .bool(true)]), 2 * 2 * 4 * 3)
        XCTAssertEqual(cost(.matmul, [[5, 2, 7], [5, 7, 4]], [5, 2, 4]), 2 * 5 * 2 * 4 * 7)
        XCTAssertEqual(cost(.fusedMatmul, [[2, 3], [4, 3], [4]], [2, 4], ["transpose_b": .bool(true)]), 2 * 2 * 4 * 3)
        // Rows: every index of the leading axes, here 6·2 = 12.
        XCTAssertEqual(cost(.contractRows, [[6, 2, 3], [6, 2, 4]], [3, 4]), 2 * 3 * 4 * 12)
        // x [2,3,7,7], w [8,3,3,3] -> [2,8,5,5]: each output a dot product over 3·3·3.
        XCTAssertEqual(cost(.conv2d, [[2, 3, 7, 7], [8, 3, 3, 3], [8]], [2, 8, 5, 5], window), 2 * 2 * 8 * 25 * 27)
        XCTAssertEqual(cost(.fusedConv2d, [[2, 3, 7, 7], [8, 3, 3, 3]], [2, 8, 5, 5], window), 2 * 2 * 8 * 25 * 27)
        XCTAssertEqual(cost(.conv2dGradInput, [[2, 8, 5, 5], [8, 3, 3, 3], [2, 3, 7, 7]], [2, 3, 7, 7], window), 2 * 2 * 8 * 25 * 27)
        XCTAssertEqual(cost(.conv2dGradWeight, [[2, 8, 5, 5], [2, 3, 7, 7], [8, 3, 3, 3]], [8, 3, 3, 3], window), 2 * 2 * 8 * 25 * 27)
        XCTAssertEqual(cost(.fusedElementwise, [[4], [4]], [4], ["program": .ints([12, 0, 1, 0, 2, 0])]), 2 * 4)
    }

    // MARK: In-place and index operands

    func testInPlaceOperandsNameInputsTheOpTakes() {
        for op in OpRegistry.all {
            guard case .inputs(let list) = op.inPlaceOperands else { continue }
            let inputs: Int
            switch op.arity {
            case .exactly(let n), .between(_, let n): inputs = n
            case .atLeast: inputs = .max
            }
            XCTAssertTrue(!list.isEmpty && list.allSatisfy { $0 >= 0 && $0 < inputs }, op.name)
        }
        XCTAssertEqual(OpDef.softmax.inPlaceOperands, .none)
        XCTAssertTrue(OpDef.fusedElementwise.inPlaceOperands.allows(5))
    }

    /// The planner takes whichever declared operand dies here: mul's second when its first
    /// lives on, and never softmax's input.
    func testMemoryPlannerUsesTheDeclaredOperands() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[4]
          %a = exp(%x)
          %b = neg(%x)
          %c = mul(%a, %b)
          %d = softmax(%c) {axis=0}
          %e = add(%d, %a)
          %f = neg(%e)
          output "f" = %f
        }
        """)
        let plan = MemoryPlanner.plan(g, byteSizes: MemoryPlanner.byteSizes(g, bindings: [:]))
        XCTAssertEqual(plan.inPlaceOf[3], 2, "mul overwrites its second operand; the first is read again")
        XCTAssertNil(plan.inPlaceOf[4], "softmax reads every element of a row for each result")
        XCTAssertEqual(plan.inPlaceOf[5], 4)
    }

    /// An op reading an i64 input as indices declares it, unless it only moves data.
    func testOpsIndexingWithI64InputsDeclareTheirIndexOperand() throws {
        for op in OpRegistry.all {
            let ex = try example(op)
            let i64Inputs = ex.inputs.indices.filter { ex.inputs[$0].dtype == .i64 }
            if let operand = op.indexOperand {
                XCTAssertEqual(i64Inputs, [operand.ids], op.name)
                XCTAssertEqual(ex.inputs[operand.limit].dtype, .f32, op.name)
                let rank = ex.inputs[operand.limit].rank
                XCTAssertTrue((-rank..<rank).contains(operand.axis), op.name)
                if let ignore = operand.ignore { XCTAssertTrue(op.attributes.contains { $0.name == ignore.name }, op.name) }
            } else if op.fusion != .injective && op != .where {   // where's i64 condition is a mask, not indices
                XCTAssertEqual(i64Inputs, [], "\(op.name) reads an i64 input but declares no index operand")
            }
        }
    }
}
