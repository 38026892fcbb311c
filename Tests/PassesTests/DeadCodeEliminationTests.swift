import GraphIR
import Passes
import XCTest

final class DeadCodeEliminationTests: XCTestCase {
    func testRemovesDeadChainsButKeepsInterface() throws {
        let out = try runPasses("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %unused = input() {name="unused"} : f32[3]
          %w = param() {name="w", init="zeros"} : f32[4]
          %frozen = param() {name="frozen", init="zeros"} : f32[2]
          %d1 = exp(%x)
          %d2 = tanh(%d1)
          %d3 = add(%d2, %w)
          %y = mul(%x, %w) loc("m.swiftgraph":7:3)
          output "y" = %y
        }
        """, ["dce"])
        assertFileCheck(out, """
        CHECK-LABEL: graph @g
        CHECK-NEXT: %[[X:[0-9]+]] = input() {name="x"} : f32[B,4]
        CHECK-NEXT: = input() {name="unused"} : f32[3]
        CHECK-NEXT: %[[W:[0-9]+]] = param() {name="w", init="zeros"} : f32[4]
        CHECK-NEXT: = param() {name="frozen", init="zeros"} : f32[2]
        CHECK-NEXT: %[[Y:[0-9]+]] = mul(%[[X]], %[[W]]) : f32[B,4] loc("m.swiftgraph":7:3)
        CHECK-NEXT: output "y" = %[[Y]]
        CHECK-NOT: exp
        CHECK-NOT: tanh
        CHECK-NOT: add
        """)
    }

    func testLossKeepsItsChainAlive() throws {
        let out = try runPasses("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %t = input() {name="t"} : i64[B]
          %lp = log_softmax(%x) {axis=1}
          %dead = exp(%lp)
          %l = nll_loss(%lp, %t)
          loss = %l
        }
        """, ["dce"])
        assertFileCheck(out, """
        CHECK: %[[X:[0-9]+]] = input() {name="x"}
        CHECK-NEXT: %[[T:[0-9]+]] = input() {name="t"}
        CHECK-NEXT: %[[LP:[0-9]+]] = log_softmax(%[[X]]) {axis=1}
        CHECK-NEXT: %[[L:[0-9]+]] = nll_loss(%[[LP]], %[[T]]) : f32[]
        CHECK-NEXT: loss = %[[L]]
        CHECK-NOT: exp
        """)
    }

    func testGraphWithoutOutputsKeepsOnlyInterface() throws {
        let g = try Pipeline(["dce"]).run(try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[4]
          %y = relu(%x)
        }
        """), .checked)
        XCTAssertEqual(g.nodes.map(\.op.name), ["input"])
    }
}
