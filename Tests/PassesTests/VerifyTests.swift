import GraphIR
import Passes
import XCTest

final class VerifyTests: XCTestCase {
    /// A graph with input x : f32[4] and whatever `build` appends.
    func verifyError(_ build: (GraphBuilder, Value) -> Void) -> String {
        let b = GraphBuilder(name: "bad")
        let x = b.append(Node(op: .input, inputs: [], attributes: ["name": .string("x")], type: .f32([4])))
        build(b, x)
        return errorMessage { _ = try Pipeline(["verify"]).run(b.finish(), .checked) }
    }

    func testAcceptsValidGraphAndReturnsItUnchanged() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %t = input() {name="t"} : i64[B]
          %lp = log_softmax(%x) {axis=1}
          %l = nll_loss(%lp, %t)
          output "lp" = %lp
          loss = %l
        }
        """)
        XCTAssertTrue(try Pipeline(["verify"]).run(g, .checked) === g)
    }

    func testWrongType() {
        let m = verifyError { b, x in b.append(Node(op: .relu, inputs: [x], type: .f32([5]))) }
        XCTAssertEqual(m, "verify: relu %1: type f32[5] differs from the inferred f32[4] (inputs: f32[4])")
    }

    func testWrongArity() {
        let m = verifyError { b, x in b.append(Node(op: .relu, inputs: [x, x], type: .f32([4]))) }
        assertContains(m, ["relu %1", "wrong number of inputs (2)"])
    }

    func testInputThatIsNotAnEarlierValue() {
        let m = verifyError { b, _ in b.append(Node(op: .relu, inputs: [Value(-1)], type: .f32([4]))) }
        assertContains(m, ["relu %1", "input %-1 is not an earlier value"])
    }

    func testShapeRuleRejection() {
        let m = verifyError { b, x in b.append(Node(op: .matmul, inputs: [x, x], type: .f32([4]))) }
        assertContains(m, ["matmul %1", "rank 2 or more", "(inputs: f32[4], f32[4])"])
    }

    func testSourceWithInputs() {
        let m = verifyError { b, x in b.append(Node(op: .param, inputs: [x], attributes: ["name": .string("w")], type: .f32([4]))) }
        assertContains(m, ["param %1", "takes no inputs, got 1"])
    }

    func testMissingAndDuplicateNames() {
        let missing = verifyError { b, _ in b.append(Node(op: .param, inputs: [], attributes: ["init": .string("zeros")], type: .f32([4]))) }
        assertContains(missing, ["param %1", "missing attribute 'name' (a non-empty string)"])
        let empty = verifyError { b, _ in b.append(Node(op: .input, inputs: [], attributes: ["name": .string("")], type: .f32([4]))) }
        assertContains(empty, ["input %1", "non-empty"])
        let dup = verifyError { b, _ in b.append(Node(op: .param, inputs: [], attributes: ["name": .string("x")], type: .f32([4]))) }
        assertContains(dup, ["param %1", "name \"x\" is already used by %0"])
    }

    func testOversizedParameter() {
        let m = verifyError { b, _ in
            b.append(Node(op: .param, inputs: [], attributes: ["name": .string("w")], type: .f32([65536, 65537])))
        }
        XCTAssertEqual(m, "verify: param %1: f32[65536,65537] holds more than 4294967296 elements")
    }

    func testOutputsAndLoss() {
        let outOfRange = verifyError { b, _ in b.outputs = [("y", Value(9))] }
        XCTAssertEqual(outOfRange, "verify: output \"y\" refers to %9, which is not in the graph")
        let twice = verifyError { b, x in b.outputs = [("y", x), ("y", x)] }
        XCTAssertEqual(twice, "verify: output name \"y\" is used twice")
        let lossRange = verifyError { b, _ in b.loss = Value(3) }
        XCTAssertEqual(lossRange, "verify: the loss refers to %3, which is not in the graph")
        let notScalar = verifyError { b, x in b.loss = x }
        XCTAssertEqual(notScalar, "verify: the loss %0 must be a scalar f32[], got f32[4]")
        let notFloat = verifyError { b, x in
            let flat = b.append(Node(op: .reshape, inputs: [x], attributes: ["shape": .shape([1, 4])], type: .f32([1, 4])))
            b.loss = b.append(Node(op: .argmax, inputs: [flat], attributes: ["axis": .int(1)], type: .i64([1])))
        }
        XCTAssertEqual(notFloat, "verify: the loss %2 must be a scalar f32[], got i64[1]")
    }

    func testLocatedNodeGivesDiagnosticAtItsSource() {
        let m = verifyError { b, x in
            b.append(Node(op: .exp, inputs: [x], type: .f32([2]), location: SourceLocation(file: "m.swiftgraph", line: 3, column: 4)))
        }
        XCTAssertEqual(m, "m.swiftgraph:3:4: error: verify: exp %1: type f32[2] differs from the inferred f32[4] (inputs: f32[4])")
    }

    func testParsedIRThatOnlyVerifyRejects() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[4]
          %w = param() {name="x", init="zeros"} : f32[4]
          %s = add(%x, %w)
          loss = %s
        }
        """)
        assertContains(errorMessage { _ = try Pipeline(["verify"]).run(g, .checked) }, ["param %1", "name \"x\" is already used by %0"])
    }
}
