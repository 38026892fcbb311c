import XCTest
@testable import GraphIR

/// Shape rules of the 3-D pooling ops and of maxpool_indices: the shapes they infer and the
/// errors they give.
final class Pooling3dShapeTests: XCTestCase {
    func shape(_ op: OpDef, _ inputs: [TensorType], _ attributes: Attributes) throws -> TensorType {
        try op.shape(ShapeQuery(inputs: inputs, attributes: attributes))
    }

    func error(_ op: OpDef, _ inputs: [TensorType], _ attributes: Attributes) -> String {
        do { _ = try shape(op, inputs, attributes); return "no error" } catch { return String(describing: error) }
    }

    let x = TensorType.f32(Shape([.symbol("N"), .known(3), .known(32), .known(32), .known(32)]))

    func testPooledVolumesWithDilationCeilModeAndAsymmetricPadding() throws {
        // ONNX's dilated case: extent 2*(5-1)+1 = 9, (32 - 9) / 3 = 7.67: floor 8 outputs, ceil 9.
        let dilated: Attributes = ["kernel": .ints([5, 5, 5]), "stride": .ints([3, 3, 3]), "padding": .ints([0, 0, 0]),
                                   "dilation": .ints([2, 2, 2])]
        for op in [OpDef.maxpool3d, .avgpool3d] {
            XCTAssertEqual(try shape(op, [x], dilated), .f32(Shape([.symbol("N"), .known(3), .known(8), .known(8), .known(8)])))
            var ceil = dilated
            ceil["ceil_mode"] = .bool(true)
            XCTAssertEqual(try shape(op, [x], ceil).shape.dims.map(\.value), [nil, 3, 9, 9, 9])
        }
        // Begins then ends: (32 + 1 + 0 - 2) / 2 + 1 = 16, (32 + 0 + 2 - 2) + 1 = 33, (32 - 2) / 4 + 1 = 8.
        let asymmetric: Attributes = ["kernel": .ints([2, 2, 2]), "stride": .ints([2, 1, 4]), "padding": .ints([1, 0, 0, 0, 2, 0])]
        XCTAssertEqual(try shape(.avgpool3d, [x], asymmetric).shape.dims.map(\.value), [nil, 3, 16, 33, 8])
        XCTAssertEqual(try shape(.maxpool3dGrad, [.f32(Shape([.symbol("N"), .known(3), .known(16), .known(33), .known(8)])), x], asymmetric), x)
    }

    func testBadWindowsAreNamedErrors() {
        let base: Attributes = ["kernel": .ints([2, 2, 2]), "stride": .ints([1, 1, 1]), "padding": .ints([0, 0, 0])]
        var a = base
        a["kernel"] = .ints([2, 2])
        XCTAssertTrue(error(.maxpool3d, [x], a).contains("'kernel' needs 3 values, got 2"))
        a = base
        a["padding"] = .ints([0, 0, 0, 0])
        XCTAssertTrue(error(.avgpool3d, [x], a).contains("needs 3 values (both ends) or 6 (begins, then ends), got 4"))
        a = base
        a["dilation"] = .ints([1, 1])
        XCTAssertTrue(error(.maxpool3d, [x], a).contains("'dilation' needs 3 values, got 2"))
        a = base
        a["kernel"] = .ints([40, 2, 2])
        XCTAssertTrue(error(.avgpool3d, [x], a).contains("kernel 40 is larger than the padded input (32 + 2*0)"))
        XCTAssertTrue(error(.maxpool3d, [.f32([1, 3, 8, 8])], base).contains("must have rank 5"))
        XCTAssertTrue(error(.avgpool3d, [.i64([1, 3, 4, 4, 4])], base).contains("must be f32"))
        XCTAssertTrue(error(.avgpool3dGrad, [.f32([1, 3, 4, 4, 4]), x], base).contains("must be the pooled shape"))
        XCTAssertTrue(error(.maxpool3d, [.f32(Shape([.known(1), .known(3), .symbol("D"), .known(4), .known(4)]))], base)
            .contains("spatial sizes must be known numbers"))
    }

    /// maxpool_indices pools 2-D or 3-D windows to i64 positions.
    func testMaxpoolIndicesAreI64OfThePooledShape() throws {
        let two: Attributes = ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0, 1, 1]), "column_major": .bool(true)]
        XCTAssertEqual(try shape(.maxpoolIndices, [.f32([1, 3, 5, 5])], two), .i64([1, 3, 3, 3]))
        let three: Attributes = ["kernel": .ints([2, 2, 2]), "stride": .ints([2, 2, 2]), "padding": .ints([0, 0, 0])]
        XCTAssertEqual(try shape(.maxpoolIndices, [x], three).dtype, .i64)
        XCTAssertTrue(error(.maxpoolIndices, [.f32([1, 3, 5, 5])], three).contains("'kernel' needs 2 values, got 3"))
        XCTAssertTrue(error(.maxpoolIndices, [.f32([3, 5, 5])], two).contains("must have rank 4 to 5"))
    }
}
