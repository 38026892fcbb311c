import XCTest
@testable import GraphIR

/// Attributes and shapes at the edges of the Int range, as an imported or hand-written file may
/// give them: each is a named error (located in an IR file), never an overflow trap.
final class ExtremeAttributeTests: XCTestCase {
    func parseError(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try IRParser.parse(text, file: "big.gir")
            XCTFail("parsed", file: file, line: line)
        } catch let d as Diagnostic {
            return d.render()
        } catch {
            XCTFail("not a Diagnostic: \(error)", file: file, line: line)
        }
        return ""
    }

    func shapeError(_ op: OpDef, _ inputs: [TensorType], _ attributes: Attributes) -> String {
        do { _ = try op.shape(ShapeQuery(inputs: inputs, attributes: attributes)); return "no error" } catch { return String(describing: error) }
    }

    /// dilation * (kernel - 1) is about 2^64 with both at the IR's largest integer, 2^32.
    func testHugeDilatedWindowsInIRTextAreLocatedErrors() {
        let volume = parseError("""
            graph @g {
              %0 = input() {name="x"} : f32[1,1,2,2,2]
              %1 = avgpool3d(%0) {kernel=[4294967296,1,1], stride=[1,1,1], padding=[0,0,0], dilation=[4294967296,1,1]}
            }
            """)
        XCTAssertTrue(volume.hasPrefix("big.gir:3:8: error: avgpool3d:"), volume)
        XCTAssertTrue(volume.contains("kernel 4294967296 dilated by 4294967296"), volume)
        XCTAssertTrue(volume.contains("is too large"), volume)
        let plane = parseError("""
            graph @g {
              %0 = input() {name="x"} : f32[1,1,2,2]
              %1 = maxpool2d(%0) {kernel=[1,4294967296], stride=[1,1], padding=[0,0], dilation=[1,4294967296]}
            }
            """)
        XCTAssertTrue(plane.hasPrefix("big.gir:3:8: error: maxpool2d:"), plane)
        XCTAssertTrue(plane.contains("kernel 4294967296 dilated by 4294967296 over 2 padded by 0, 0 is too large"), plane)
    }

    /// (size - 1) * stride is about 2^64 for a 2^32-row input and stride 2^32.
    func testHugeTransposedConvolutionInIRTextIsALocatedError() {
        let text = parseError("""
            graph @g {
              %0 = input() {name="x"} : f32[1,1,4294967296,1]
              %1 = param() {name="w", init="zeros"} : f32[1,1,1,1]
              %2 = conv_transpose2d(%0, %1) {stride=[4294967296,1], padding=[0,0]}
            }
            """)
        XCTAssertTrue(text.hasPrefix("big.gir:4:8: error: conv_transpose2d:"), text)
        XCTAssertTrue(text.contains("is too large"), text)
    }

    func testWindowOutputRefusesSumsAndProductsPastTheIntRange() {
        func message(_ body: () throws -> Int) -> String {
            do { return "\(try body())" } catch { return String(describing: error) }
        }
        XCTAssertTrue(message { try windowOutput(3, kernel: 1, stride: 1, padBegin: .max, padEnd: .max, what: "p") }.contains("too large"))
        XCTAssertTrue(message { try windowOutput(3, kernel: 3, stride: 1, padBegin: 0, padEnd: 0, dilation: .max, what: "d") }.contains("too large"))
        XCTAssertTrue(message { try windowOutput(3, kernel: .max, stride: 2, padBegin: 0, padEnd: 0, dilation: 2, what: "k") }.contains("too large"))
        XCTAssertTrue(message { try windowOutput(3, kernel: .max, stride: 1, padBegin: 0, padEnd: 0, what: "k") }.contains("larger than the padded input"))
        // Ceil mode with a stride near Int.max: one window, no overflow rounding up.
        XCTAssertEqual(try windowOutput(3, kernel: 1, stride: .max, padBegin: .max / 4, padEnd: .max / 4, ceilMode: true, what: "c"), 1)
        // Windows at 0, 2, 4 and a last partial one at 6; none starting in the end padding.
        XCTAssertEqual(try windowOutput(7, kernel: 2, stride: 2, padBegin: 0, padEnd: 0, ceilMode: true, what: "c"), 4)
        XCTAssertEqual(try windowOutput(6, kernel: 2, stride: 2, padBegin: 0, padEnd: 1, ceilMode: true, what: "c"), 3)
        let x5 = TensorType.f32([1, 1, 3, 3, 3])
        let pads: Attributes = ["kernel": .ints([1, 1, 1]), "stride": .ints([1, 1, 1]), "padding": .ints([.max, 0, 0, .max, 0, 0])]
        XCTAssertTrue(shapeError(.maxpool3d, [x5], pads).contains("too large"))
    }

    /// A window mostly in padding holds more taps than an Int counts: FLOPs are a Double.
    func testWindowSizeOfAHugeKernelIsFinite() {
        let q = CostQuery(inputs: [[1, 1, 1, 1, 1]], output: [1, 1, 2, 2, 2],
                          attributes: ["kernel": .ints([1 << 32, 1 << 32, 1 << 32])])
        XCTAssertEqual(Avgpool3dOp.flops(q), 8 * (0x1p96 + 1))
    }

    func testPadsBeyondTheElementLimitAreRefused() {
        let x = TensorType.f32([2])
        XCTAssertTrue(shapeError(.pad, [x], ["pads": .ints([.min, .max])]).contains("exceed 4294967296 in magnitude"))
        XCTAssertTrue(shapeError(.pad, [x], ["pads": .ints([1 << 62, 1 << 62])]).contains("exceed"))
        XCTAssertTrue(shapeError(.pad, [x], ["pads": .ints([1 << 32, -(1 << 32)])]) == "no error")
        // The read position saturates instead of computing 0 - Int.min.
        for mode in PadMode.allCases {
            _ = mode.source(0, size: 2, begin: .min)
            _ = mode.source(-1, size: 2, begin: .max)
        }
        XCTAssertNil(PadMode.constant.source(0, size: 2, begin: .min))
        XCTAssertEqual(PadMode.edge.source(0, size: 2, begin: .min), 1)
        XCTAssertEqual(PadMode.edge.source(-1, size: 2, begin: .max), 0)
    }

    func testReshapeTargetsWhoseProductOverflowAreRefused() {
        let x = TensorType.f32([4])
        XCTAssertTrue(shapeError(.reshape, [x], ["shape": .shape(Shape([.known(1 << 62), .known(4)]))]).contains("too many elements"))
        XCTAssertTrue(shapeError(.reshape, [TensorType.f32([0])], ["shape": .shape(Shape([.known(1 << 62), .known(4), .known(0)]))])
            .contains("too many elements"))
        XCTAssertTrue(shapeError(.reshape, [x], ["shape": .shape(Shape([.known(1 << 62), .known(4), .known(-1)]))]).contains("too many elements"))
        XCTAssertFalse(sameElementCount(Shape([.known(1 << 62), .known(4)]), Shape([.known(1 << 62), .known(4)])))
        XCTAssertTrue(sameElementCount(Shape([.known(2), .known(6)]), Shape([.known(3), .known(4)])))
    }

    /// The builder applies the verifier's element limit, so no built type exceeds it.
    func testEmitRefusesResultsOverTheElementLimit() throws {
        let b = GraphBuilder(name: "g")
        let a = b.input("a", .f32([65536, 1])), c = b.input("c", .f32([1, 131072]))
        XCTAssertThrowsError(try b.emit(.add, [a, c])) { error in
            XCTAssertTrue(String(describing: error).contains("holds more than 4294967296 elements"), "\(error)")
        }
        let x = b.input("x", .f32([2]))
        XCTAssertThrowsError(try b.emit(.pad, [x], ["pads": .ints([0, 1 << 32])]))
        // At the limit itself it builds.
        XCTAssertEqual(b.type(of: try b.emit(.add, [a, b.input("d", .f32([1, 65536]))])), .f32([65536, 65536]))
    }
    /// maxpool2d_grad's kernels walk dy by x's pooled shape: a smaller dy, a dy of another rank
    /// or integer operands read past dy or misread it (a hostile read's reproducers).
    func testMaxPoolGradientNeedsTheFloatPooledShapeOfItsInput() {
        let small = parseError("""
            graph @g {
              %0 = input() {name="dy"} : f32[1,1,1,1]
              %1 = input() {name="x"} : f32[1,64,64,64]
              %2 = maxpool2d_grad(%0, %1) {kernel=[2,2], stride=[2,2], padding=[0,0]}
            }
            """)
        XCTAssertTrue(small.hasPrefix("big.gir:4:8: error: maxpool2d_grad:"), small)
        XCTAssertTrue(small.contains("must be the pooled shape"), small)
        let rank = parseError("""
            graph @g {
              %0 = input() {name="dy"} : f32[1,4]
              %1 = input() {name="x"} : f32[1,1,4,4]
              %2 = maxpool2d_grad(%0, %1) {kernel=[2,2], stride=[2,2], padding=[0,0]}
            }
            """)
        XCTAssertTrue(rank.hasPrefix("big.gir:4:8: error: maxpool2d_grad:"), rank)
        let integers = shapeError(.maxpool2dGrad, [.i64([1, 1, 2, 2]), .i64([1, 1, 4, 4])],
                                  ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0])])
        XCTAssertNotEqual(integers, "no error")
        XCTAssertEqual(shapeError(.maxpool2dGrad, [.f32([1, 1, 2, 2]), .f32([1, 1, 4, 4])],
                                  ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0]), "activation": .string("relu")]),
                       "no error")
    }
}
