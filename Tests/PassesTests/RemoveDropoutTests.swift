import GraphIR
import Passes
import XCTest

/// IR in, IR out: the evaluation graph's dropouts, `x * dropout_mask(x)`, become `x`.
final class RemoveDropoutTests: XCTestCase {
    func testDropoutBecomesItsInputEitherOperandOrder() throws {
        let context = PassContext.checked
        let out = IRPrinter.print(try Pipeline(["remove-dropout", "dce", "verify"]).run(try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[B,6]
          %r = relu(%x) : f32[B,6]
          %m = dropout_mask(%r) {p=0.3} : f32[B,6]
          %d = mul(%r, %m) : f32[B,6]
          %m2 = dropout_mask(%d) {p=0.5} : f32[B,6]
          %d2 = mul(%m2, %d) : f32[B,6]
          %y = tanh(%d2) : f32[B,6]
          output "y" = %y
        }
        """), context))
        assertFileCheck(out, """
        // CHECK: %[[R:[0-9]+]] = relu(%{{[0-9]+}}) : f32[B,6]
        // CHECK-NOT: dropout_mask
        // CHECK-NOT: mul(
        // CHECK: %[[Y:[0-9]+]] = tanh(%[[R]]) : f32[B,6]
        // CHECK: output "y" = %[[Y]]
        """)
        XCTAssertEqual(context.statistics.first { $0.pass == "remove-dropout" }?["dropouts removed"], 2)
    }

    /// A mask multiplied into something other than its own input is not a dropout of it: kept.
    func testAMaskTimesAnotherValueStays() throws {
        let out = try runPasses("""
        graph @g {
          %x = input() {name="x"} : f32[B,6]
          %z = input() {name="z"} : f32[B,6]
          %m = dropout_mask(%x) {p=0.3} : f32[B,6]
          %d = mul(%z, %m) : f32[B,6]
          output "y" = %d
        }
        """, ["remove-dropout", "dce", "verify"])
        assertFileCheck(out, """
        // CHECK: %[[M:[0-9]+]] = dropout_mask(%{{[0-9]+}}) {p=0.3}
        // CHECK: %[[D:[0-9]+]] = mul(%{{[0-9]+}}, %[[M]])
        // CHECK: output "y" = %[[D]]
        """)
    }
}
