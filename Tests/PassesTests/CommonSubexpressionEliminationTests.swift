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
        CHECK-LABEL: graph @g
        CHECK-NEXT: %[[X:[0-9]+]] = input() {name="x"} : f32[4]
        CHECK-NEXT: %[[T:[0-9]+]] = tanh(%[[X]]) : f32[4] scope("first") loc("m.swiftgraph":1:1)
        CHECK-NEXT: %[[S:[0-9]+]] = scale(%[[T]]) {factor=2.0} : f32[4]
        CHECK-NEXT: %[[E:[0-9]+]] = add(%[[S]], %[[S]]) : f32[4]
        CHECK-NEXT: output "e" = %[[E]]
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
        CHECK: %[[X:[0-9]+]] = input() {name="x"}
        CHECK-NEXT: %[[M1:[0-9]+]] = dropout_mask(%[[X]]) {p=0.3}
        CHECK-NEXT: %[[M2:[0-9]+]] = dropout_mask(%[[X]]) {p=0.3}
        CHECK-NEXT: %[[Y1:[0-9]+]] = mul(%[[X]], %[[M1]])
        CHECK-NEXT: %[[Y2:[0-9]+]] = mul(%[[X]], %[[M2]])
        CHECK-NEXT: %[[S2:[0-9]+]] = scale(%[[X]]) {factor=2.0}
        CHECK-NEXT: %[[S3:[0-9]+]] = scale(%[[X]]) {factor=3.0}
        CHECK-NEXT: transpose(%[[X]]) {perm=[0]}
        CHECK: output "y1" = %[[Y1]]
        CHECK-NEXT: output "y2" = %[[Y2]]
        CHECK-NEXT: output "s2" = %[[S2]]
        CHECK-NEXT: output "s3" = %[[S3]]
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
