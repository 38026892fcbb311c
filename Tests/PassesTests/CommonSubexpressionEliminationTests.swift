import GraphIR
import Passes
import XCTest

final class CommonSubexpressionEliminationTests: XCTestCase {
    func testMergesDuplicatesTransitivelyAndKeepsFirstLocation() throws {
        let out = try runPasses("""
        graph @g {
          %x = input() {name="x"} : f32[4]
          %a = tanh(%x) scope("first") loc("m.swiftgraph":1:1)
          %b = tanh(%x) scope("second") loc("m.swiftgraph":2:1)
          %c = scale(%a) {factor=2.0}
          %d = scale(%b) {factor=2.0}
          %e = add(%c, %d)
          output "e" = %e
        }
        """, ["cse"])
        assertFileCheck(out, """
        CHECK: %1 = tanh(%0) : f32[4] scope("first") loc("m.swiftgraph":1:1)
        CHECK-NEXT: %2 = scale(%1) {factor=2.0} : f32[4]
        CHECK-NEXT: %3 = add(%2, %2) : f32[4]
        CHECK-NEXT: output "e" = %3
        CHECK-NOT: tanh
        CHECK-NOT: second
        """)
    }

    func testDoesNotMergeDropoutMasksOrDifferentAttributes() throws {
        let out = try runPasses("""
        graph @g {
          %x = input() {name="x"} : f32[4]
          %m1 = dropout_mask(%x) {p=0.3}
          %m2 = dropout_mask(%x) {p=0.3}
          %y1 = mul(%x, %m1)
          %y2 = mul(%x, %m2)
          %s2 = scale(%x) {factor=2.0}
          %s3 = scale(%x) {factor=3.0}
          %t = transpose(%x) {perm=[0]}
          output "y1" = %y1
          output "y2" = %y2
          output "s2" = %s2
          output "s3" = %s3
        }
        """, ["cse"])
        assertFileCheck(out, """
        CHECK: %1 = dropout_mask(%0) {p=0.3}
        CHECK-NEXT: %2 = dropout_mask(%0) {p=0.3}
        CHECK-NEXT: %3 = mul(%0, %1)
        CHECK-NEXT: %4 = mul(%0, %2)
        CHECK-NEXT: %5 = scale(%0) {factor=2.0}
        CHECK-NEXT: %6 = scale(%0) {factor=3.0}
        CHECK: output "y1" = %3
        CHECK-NEXT: output "y2" = %4
        """)
    }

    func testDoesNotMergeInputsOrParametersWithEqualTypes() throws {
        let g = try Pipeline(["cse"]).run(try parseIR("""
        graph @g {
          %a = param() {name="a", init="zeros"} : f32[4]
          %b = param() {name="b", init="zeros"} : f32[4]
          %c = add(%a, %b)
          output "c" = %c
        }
        """), .checked)
        XCTAssertEqual(g.nodes.count, 3)
        XCTAssertEqual(g.nodes[2].inputs, [Value(0), Value(1)])
    }

    func testOutputsAndLossFollowMergedValues() throws {
        let g = try Pipeline(["cse"]).run(try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[4]
          %a = sum(%x) {axes=[0]}
          %b = sum(%x) {axes=[0]}
          output "a" = %a
          output "b" = %b
          loss = %b
        }
        """), .checked)
        XCTAssertEqual(g.nodes.count, 2)
        XCTAssertEqual(g.outputs.map(\.value), [Value(1), Value(1)])
        XCTAssertEqual(g.loss, Value(1))
    }
}
