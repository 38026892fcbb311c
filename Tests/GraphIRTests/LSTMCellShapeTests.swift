import XCTest
@testable import GraphIR

/// Shape rules of lstm_cell's backward ops: the shapes they infer and the errors they give.
final class LSTMCellShapeTests: XCTestCase {
    func shape(_ op: OpDef, _ inputs: [TensorType]) throws -> TensorType {
        try op.shape(ShapeQuery(inputs: inputs, attributes: [:]))
    }

    func error(_ op: OpDef, _ inputs: [TensorType]) -> String {
        do { _ = try shape(op, inputs); return "no error" } catch { return String(describing: error) }
    }

    func f32(_ dims: Dim...) -> TensorType { .f32(Shape(dims)) }

    func testGatesAndStateGradientsOfASymbolicBatch() throws {
        let y = f32(.symbol("B"), .known(3), .known(35)), c = f32(.symbol("B"), .known(3), .known(5))
        XCTAssertEqual(try shape(.lstmCellGrad, [y, y, c]), f32(.symbol("B"), .known(3), .known(20)))
        XCTAssertEqual(try shape(.lstmCellStateGrad, [y, y]), c)
        // The forms taking dh and dc' for dY.
        XCTAssertEqual(try shape(.lstmCellGrad, [y, c, c, c]), f32(.symbol("B"), .known(3), .known(20)))
        XCTAssertEqual(try shape(.lstmCellStateGrad, [y, c, c]), c)
    }

    func testBadOperandsAreNamedErrors() {
        let y = f32(.known(2), .known(14)), c = f32(.known(2), .known(2))
        XCTAssertTrue(error(.lstmCellGrad, [f32(.known(2), .known(15)), f32(.known(2), .known(15)), c])
            .contains("lstm_cell_grad: lstm_cell's result must be [..., 7H] with a known last dimension"))
        XCTAssertTrue(error(.lstmCellStateGrad, [f32(.known(2), .symbol("W")), f32(.known(2), .symbol("W"))])
            .contains("lstm_cell_state_grad: lstm_cell's result must be [..., 7H]"))
        XCTAssertTrue(error(.lstmCellStateGrad, [y, f32(.known(3), .known(14))])
            .contains("lstm_cell_state_grad: the gradient must have lstm_cell's result's shape"))
        XCTAssertTrue(error(.lstmCellGrad, [y, y, f32(.known(2), .known(3))])
            .contains("lstm_cell_grad: the cell state must be [..., H] = [2,2]"), error(.lstmCellGrad, [y, y, f32(.known(2), .known(3))]))
        XCTAssertTrue(error(.lstmCellGrad, [y, y, f32(.known(3), .known(2))]).contains("the cell state must be"))
        XCTAssertTrue(error(.lstmCellGrad, [y, y, .i64(Shape([.known(2), .known(2)]))]).contains("cell state"))
        XCTAssertEqual(error(.lstmCellGrad, [y, y, c]), "no error")
        XCTAssertTrue(error(.lstmCellGrad, [y, c, f32(.known(2), .known(3)), c]).contains("lstm_cell_grad: dh and dc' must be"))
        XCTAssertTrue(error(.lstmCellStateGrad, [y, y, c]).contains("lstm_cell_state_grad: dh and dc' must be"))
        XCTAssertTrue(error(.lstmCellGrad, [y, c, c, f32(.known(2), .known(5))]).contains("the cell state must be"))
    }
}
