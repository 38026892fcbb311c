import XCTest
@testable import GraphIR

/// Shape rules of the ops and attributes added for ONNX models: the shapes they infer and the
/// errors they give.
final class ONNXOpShapeTests: XCTestCase {
    func shape(_ op: OpDef, _ inputs: [TensorType], _ attributes: Attributes) throws -> TensorType {
        try op.shape(ShapeQuery(inputs: inputs, attributes: attributes))
    }

    func error(_ op: OpDef, _ inputs: [TensorType], _ attributes: Attributes) -> String {
        do { _ = try shape(op, inputs, attributes); return "no error" } catch { return String(describing: error) }
    }

    func assertError(_ op: OpDef, _ inputs: [TensorType], _ attributes: Attributes, _ fragment: String,
                     file: StaticString = #filePath, line: UInt = #line) {
        let message = error(op, inputs, attributes)
        XCTAssertTrue(message.contains(fragment), "\(op.name): \(message)", file: file, line: line)
    }

    func testConvolutionShapesWithGroupsDilationAndAsymmetricPadding() throws {
        let x = TensorType.f32(Shape([.symbol("N"), .known(6), .known(9), .known(8)]))
        // Depthwise: groups = channels, weight [6, 1, 3, 3].
        XCTAssertEqual(try shape(.conv2d, [x, .f32([6, 1, 3, 3])], ["stride": .ints([1, 1]), "padding": .ints([1, 1]), "groups": .int(6)]),
                       .f32(Shape([.symbol("N"), .known(6), .known(9), .known(8)])))
        // (9 + 0 + 1 - 2*2 - 1) / 2 + 1 = 3; (8 + 1 + 0 - 1*2 - 1) / 1 + 1 = 7.
        XCTAssertEqual(try shape(.conv2d, [x, .f32([4, 3, 3, 3])], ["stride": .ints([2, 1]), "padding": .ints([0, 1, 1, 0]),
                                                                  "dilation": .ints([2, 1]), "groups": .int(2)]).shape.dims.map(\.value),
                       [nil, 4, 3, 7])
        assertError(.conv2d, [x, .f32([4, 2, 3, 3])], ["stride": .ints([1, 1]), "padding": .ints([1, 1]), "groups": .int(2)],
                    "in 2 groups expects 4")
        assertError(.conv2d, [x, .f32([5, 3, 3, 3])], ["stride": .ints([1, 1]), "padding": .ints([1, 1]), "groups": .int(2)],
                    "5 output channels do not split into 2 groups")
        assertError(.conv2d, [x, .f32([4, 6, 3, 3])], ["stride": .ints([1, 1]), "padding": .ints([1, 1, 1])],
                    "needs 2 values [h, w] or 4 [top, left, bottom, right], got 3")
        assertError(.conv2d, [x, .f32([4, 6, 3, 3])], ["stride": .ints([1, 1]), "padding": .ints([0, 0]), "dilation": .ints([5, 1])],
                    "kernel 3 dilated by 5 is larger than the padded input (9 + 2*0)")
        assertError(.conv2d, [x, .f32([4, 6, 3, 3])], ["stride": .ints([1, 1]), "padding": .ints([0, 0]), "dilation": .ints([1])],
                    "'dilation' needs 2 values")
    }

    func testPoolingCeilModeAndAsymmetricPadding() throws {
        let x = TensorType.f32([1, 2, 112, 112])
        let floor: Attributes = ["kernel": .ints([3, 3]), "stride": .ints([2, 2]), "padding": .ints([0, 0])]
        var ceil = floor
        ceil["ceil_mode"] = .bool(true)
        XCTAssertEqual(try shape(.maxpool2d, [x], floor), .f32([1, 2, 55, 55]))
        XCTAssertEqual(try shape(.maxpool2d, [x], ceil), .f32([1, 2, 56, 56]))
        XCTAssertEqual(try shape(.avgpool2d, [x], ceil), .f32([1, 2, 56, 56]))
        // Input 5, kernel 2, stride 2: floor gives 2 windows, ceil_mode 3 (the last one clipped).
        var pair = floor
        pair["kernel"] = .ints([2, 2])
        XCTAssertEqual(try shape(.maxpool2d, [.f32([1, 1, 5, 5])], pair), .f32([1, 1, 2, 2]))
        pair["ceil_mode"] = .bool(true)
        XCTAssertEqual(try shape(.maxpool2d, [.f32([1, 1, 5, 5])], pair), .f32([1, 1, 3, 3]))
        // Input 3 padded by 1 at both ends: rounding up gives 3 windows, but the third would
        // start at 2*2 - 1 = 3, in the end padding, so it is dropped (PyTorch's rule).
        pair["padding"] = .ints([1, 1])
        XCTAssertEqual(try shape(.maxpool2d, [.f32([1, 1, 3, 3])], pair), .f32([1, 1, 2, 2]))
        var asym = floor
        asym["padding"] = .ints([0, 1, 1, 0])
        XCTAssertEqual(try shape(.avgpool2d, [.f32([1, 1, 6, 6])], asym), .f32([1, 1, 3, 3]))
        var big = floor
        big["padding"] = .ints([3, 3])
        assertError(.avgpool2d, [x], big, "padding 3, 3 must be smaller than the kernel 3")
        assertError(.avgpool2d, [.f32([1, 2, 2, 2])], floor, "kernel 3 is larger than the padded input (2 + 2*0)")
        assertError(.avgpool2d, [.f32([2, 2, 2])], floor, "rank 4")
        assertError(.avgpool2dGrad, [.f32([1, 2, 5, 5]), x], floor, "must be the pooled shape")
    }

    func testElementwiseMathKeepsTheShapeAndNeedsFloats() throws {
        let x = TensorType.f32(Shape([.symbol("B"), .known(3)]))
        for (op, attrs) in [(OpDef.leakyRelu, ["alpha": Attribute.float(0.1)] as Attributes), (.sqrt, [:]), (.pow, ["exponent": .float(2)]),
                            (.abs, [:]), (.erf, [:]), (.hardSigmoid, ["alpha": .float(0.2), "beta": .float(0.5)])] {
            XCTAssertEqual(try shape(op, [x], attrs), x, op.name)
            assertError(op, [.i64([3])], attrs, "must be f32")
        }
    }

    /// An empty tensor reshapes to any shape of 0 elements (ONNX's allowzero), not with a -1.
    func testReshapeOfAnEmptyTensor() throws {
        XCTAssertEqual(try shape(.reshape, [.f32([0, 3, 4])], ["shape": .shape(Shape(known: [3, 4, 0]))]), .f32([3, 4, 0]))
        assertError(.reshape, [.f32([0, 3, 4])], ["shape": .shape(Shape(known: [0, -1]))], "cannot reshape")
        assertError(.reshape, [.f32([2, 3])], ["shape": .shape(Shape(known: [6, 0]))], "cannot reshape")
    }

    func testPadGatherLRNAndConvTransposeShapes() throws {
        let x = TensorType.f32(Shape([.symbol("B"), .known(3), .known(4)]))
        XCTAssertEqual(try shape(.pad, [x], ["pads": .ints([0, 1, -1, 0, 2, 3])]), .f32(Shape([.symbol("B"), .known(6), .known(6)])))
        assertError(.pad, [x], ["pads": .ints([0, 1, 2, 3])], "'pads' needs 6 values")
        assertError(.pad, [x], ["pads": .ints([1, 0, 0, 0, 0, 0])], "axis 0 of f32[B,3,4] is padded, so it must be a known number")
        assertError(.pad, [x], ["pads": .ints([0, 3, 0, 0, 0, 0]), "mode": .string("reflect")], "needs pads below 3, got 3, 0")
        assertError(.pad, [x], ["pads": .ints([0, -2, 0, 0, -2, 0])], "crop more than axis 1")
        assertError(.padGrad, [.f32([2, 2]), .f32([3, 4])], ["pads": .ints([0, 0, 0, 0])], "must be the padded type")
        // Wrap reads the other end, any distance, but needs something to read; integers pad as i64.
        XCTAssertEqual(try shape(.pad, [.f32([2, 3])], ["pads": .ints([0, 7, 1, 0]), "mode": .string("wrap")]), .f32([3, 10]))
        assertError(.pad, [.f32([2, 0])], ["pads": .ints([0, 1, 0, 0]), "mode": .string("wrap")], "wrap padding of an empty axis 1")
        XCTAssertEqual(try shape(.pad, [.i64([2, 3])], ["pads": .ints([1, 0, 0, 1]), "mode": .string("edge")]), .i64([3, 4]))
        assertError(.padGrad, [.i64([3, 4]), .i64([2, 3])], ["pads": .ints([1, 0, 0, 1])], "must be f32")
        XCTAssertEqual(try shape(.reduceMax, [.i64([4, 2])], ["axes": .ints([1]), "keepdims": .bool(true)]), .i64([4, 1]))
        XCTAssertEqual(try shape(.reduceMin, [.f32([4, 2])], ["axes": .ints([0])]), .f32([2]))
        assertError(.reduceExtremumGrad, [.i64([4]), .i64([4, 2]), .i64([4])], ["axes": .ints([1])], "must be f32")

        XCTAssertEqual(try shape(.gather, [x, .i64([2, 5])], ["axis": .int(1)]),
                       .f32(Shape([.symbol("B"), .known(2), .known(5), .known(4)])))
        XCTAssertEqual(try shape(.gather, [.f32([5, 4]), .i64([])], ["axis": .int(0)]), .f32([4]))
        assertError(.gather, [x, .f32([2])], ["axis": .int(1)], "indices must be i64")
        assertError(.gather, [x, .i64([2])], ["axis": .int(3)], "axis 3 is out of range for rank 3")

        XCTAssertEqual(try shape(.lrn, [.f32([2, 8, 5, 5])], ["size": .int(5)]), .f32([2, 8, 5, 5]))
        assertError(.lrn, [.f32([2, 8])], ["size": .int(5)], "rank 3 to 8")
        assertError(.lrnGrad, [.f32([2, 8, 4]), .f32([2, 8, 5])], ["size": .int(5)], "must have the input's type")

        let t: Attributes = ["stride": .ints([2, 2]), "padding": .ints([1, 1]), "output_padding": .ints([1, 1])]
        XCTAssertEqual(try shape(.convTranspose2d, [.f32([1, 8, 7, 7]), .f32([8, 4, 3, 3]), .f32([4])], t), .f32([1, 4, 14, 14]))
        var grouped = t
        grouped["groups"] = .int(2)
        XCTAssertEqual(try shape(.convTranspose2d, [.f32([1, 8, 7, 7]), .f32([8, 4, 3, 3])], grouped), .f32([1, 8, 14, 14]))
        assertError(.convTranspose2d, [.f32([1, 6, 7, 7]), .f32([8, 4, 3, 3])], t, "input has 6 channels but the weight")
        assertError(.convTranspose2d, [.f32([1, 8, 7, 7]), .f32([8, 4, 3, 3]), .f32([8])], t, "bias f32[8] must be [4]")
        var tooMuch = t
        tooMuch["output_padding"] = .ints([2, 0])
        assertError(.convTranspose2d, [.f32([1, 8, 7, 7]), .f32([8, 4, 3, 3])], tooMuch, "output_padding 2 must be below the stride 2")
        grouped["groups"] = .int(3)
        assertError(.convTranspose2d, [.f32([1, 8, 7, 7]), .f32([8, 4, 3, 3])], grouped, "8 input channels do not split into 3 groups")
    }
}
