import XCTest
@testable import GraphIR

/// Binary arithmetic on i64 operands (ONNX's integer Add, Div, Max, Pow), `power` and `cast`:
/// the types their shape rules give, the errors for mixed element types, the integer scalar
/// functions' edge cases, and the IR text of such nodes.
final class IntegerElementwiseTests: XCTestCase {
    static let integerOps: [OpDef] = [.add, .sub, .mul, .div, .maximum, .minimum, .power]

    func shape(_ op: OpDef, _ inputs: [TensorType], _ attributes: Attributes = [:]) throws -> TensorType {
        try op.shape(ShapeQuery(inputs: inputs, attributes: attributes))
    }

    func error(_ op: OpDef, _ inputs: [TensorType], _ attributes: Attributes = [:]) -> String {
        do { _ = try shape(op, inputs, attributes); return "no error" } catch { return String(describing: error) }
    }

    func testIntegerOperandsGiveAnIntegerResultBroadcastLikeFloats() throws {
        let batch = Shape([.symbol("B"), .known(1), .known(4)])
        for op in IntegerElementwiseTests.integerOps {
            XCTAssertTrue(op.scalarFunction?.takesIntegers ?? false, op.name)
            XCTAssertEqual(try shape(op, [.i64(batch), .i64([3, 1])]), .i64(Shape([.symbol("B"), .known(3), .known(4)])), op.name)
            XCTAssertEqual(try shape(op, [.f32([2, 3]), .f32([3])]), .f32([2, 3]), op.name)
            XCTAssertTrue(error(op, [.i64([2, 3]), .i64([4])]).contains("do not broadcast"), op.name)
        }
    }

    func testMixedElementTypesAreAnErrorNamingBothOperands() {
        for op in IntegerElementwiseTests.integerOps {
            XCTAssertEqual(error(op, [.f32([3]), .i64([3])]), "operands must be both f32 or both i64, got f32[3] and i64[3]", op.name)
            XCTAssertEqual(error(op, [.i64([2, 1]), .f32([])]), "operands must be both f32 or both i64, got i64[2,1] and f32[]", op.name)
        }
        // Ops without an integer function stay f32 only.
        XCTAssertFalse(OpDef.reluGrad.scalarFunction?.takesIntegers ?? true)
        XCTAssertTrue(error(.reluGrad, [.i64([3]), .i64([3])]).contains("must be f32, got i64[3]"))
        XCTAssertTrue(error(.relu, [.i64([3])]).contains("must be f32, got i64[3]"))
    }

    func testIntegerFunctionsWrapTruncateAndNeverTrap() throws {
        func f(_ op: OpDef, _ a: Int64, _ b: Int64) throws -> Int64 { try XCTUnwrap(op.scalarFunction?.integers(a, b), op.name) }
        XCTAssertEqual(try f(.add, .max, 1), .min)
        XCTAssertEqual(try f(.sub, .min, 1), .max)
        XCTAssertEqual(try f(.mul, 1 << 62, 4), 0)
        XCTAssertEqual(try f(.mul, -3, 5), -15)
        // Truncation toward zero, as C: -7 / 2 is -3, not numpy's floor -4.
        XCTAssertEqual(try f(.div, -7, 2), -3)
        XCTAssertEqual(try f(.div, 7, -2), -3)
        XCTAssertEqual(try f(.div, -7, -2), 3)
        XCTAssertEqual(try f(.div, 5, 0), 0, "a zero divisor gives 0")
        XCTAssertEqual(try f(.div, .min, -1), .min, "the one overflowing quotient wraps")
        XCTAssertEqual(try f(.maximum, -4, 3), 3)
        XCTAssertEqual(try f(.minimum, -4, 3), -4)
        XCTAssertEqual(try f(.power, 3, 4), 81)
        XCTAssertEqual(try f(.power, -2, 3), -8)
        XCTAssertEqual(try f(.power, 7, 0), 1)
        XCTAssertEqual(try f(.power, 0, 0), 1)
        XCTAssertEqual(try f(.power, 2, 64), 0, "wraps like 64 multiplications by 2")
        XCTAssertEqual(try f(.power, 2, -1), 0)
        XCTAssertEqual(try f(.power, -1, -3), -1)
        XCTAssertEqual(try f(.power, 1, -5), 1)
        XCTAssertEqual(try f(.power, 0, -2), 0)
        XCTAssertNil(OpDef.relu.scalarFunction?.integers(1, 2))
    }

    func testIntegerPowerIsRepeatedWrappingMultiplication() {
        for base in [-5, -2, -1, 0, 1, 2, 3, 7, 1 << 20, 3_037_000_500] as [Int64] {
            var product: Int64 = 1
            for e in 0..<70 {
                XCTAssertEqual(integerPower(base, Int64(e)), product, "\(base)^\(e)")
                product = product &* base
            }
        }
    }

    func testCastTypesItsResultAndChecksItsTarget() throws {
        XCTAssertEqual(try shape(.cast, [.f32(Shape([.symbol("B"), .known(3)]))], ["to": .string("i64")]),
                       .i64(Shape([.symbol("B"), .known(3)])))
        XCTAssertEqual(try shape(.cast, [.i64([2])], ["to": .string("f32")]), .f32([2]))
        XCTAssertEqual(try shape(.cast, [.f32([2])], ["to": .string("f32")]), .f32([2]))
        XCTAssertThrowsError(try checkAttributes(["to": .string("f16")], of: .cast)) { e in
            XCTAssertEqual(String(describing: e), "attribute 'to' must be a string, one of \"f32\", \"i64\", got \"f16\"")
        }
    }

    /// i64 elementwise nodes print with their types and parse back to the same graph.
    func testIntegerNodesRoundTripThroughTheIRText() throws {
        let b = GraphBuilder(name: "ints")
        let x = b.input("x", .i64(Shape([.symbol("B"), .known(3)])))
        let y = b.input("y", .i64([3]))
        let s = try b.emit(.add, [x, y])
        let q = try b.emit(.div, [s, try b.emit(.power, [y, y])])
        let m = try b.emit(.maximum, [q, try b.emit(.minimum, [x, y])])
        let f = try b.emit(.cast, [try b.emit(.sub, [m, try b.emit(.mul, [m, y])])], ["to": .string("f32")])
        b.outputs = [("z", f)]
        let g = b.finish()
        try Verifier.check(g)
        let text = IRPrinter.print(g)
        XCTAssertTrue(text.contains("add(%0, %1) : i64[B,3]"), text)
        XCTAssertTrue(text.contains("cast(%8) {to=\"f32\"} : f32[B,3]"), text)
        let parsed = try IRParser.parse(text, file: "ints.gir")
        XCTAssertEqual(IRPrinter.print(parsed), text)
        XCTAssertEqual(parsed.nodes.map(\.type), g.nodes.map(\.type))
    }

    /// A hand-written `.gir` mixing f32 and i64 in an add is a located error.
    func testMixedTypesInAGirFileAreALocatedError() {
        let text = """
        graph @g {
          %0 = input() {name="x"} : f32[3]
          %1 = input() {name="i"} : i64[3]
          %2 = add(%0, %1)
          output "y" = %2
        }
        """
        do {
            _ = try IRParser.parse(text, file: "mixed.gir")
            XCTFail("parsed")
        } catch {
            let message = String(describing: error)
            XCTAssertTrue(message.contains("mixed.gir:4:") && message.contains("operands must be both f32 or both i64"), message)
        }
    }
}
