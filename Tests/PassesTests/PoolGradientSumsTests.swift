import GraphIR
import Passes
import XCTest

/// IR in, IR out: which bias sums over a max-pool gradient are summed from the pooled gradient.
final class PoolGradientSumsTests: XCTestCase {
    func run(_ ir: String, _ context: PassContext = .checked) throws -> String {
        IRPrinter.print(try Pipeline(["pool-gradient-sums", "dce", "verify"]).run(try parseIR(ir), context))
    }

    /// The CNN's two blocks as fusion leaves their backward: the relu-folded pool gradient's
    /// bias sum reads dy and the forward's pooled output; the pool gradient stays for the
    /// weight gradient. An unfolded one sums dy itself.
    func testBiasSumsReadThePooledGradient() throws {
        let context = PassContext.checked
        let out = try run("""
        graph @g {
          %x = input() {name="x"} : f32[B,16,28,28]
          %dy = input() {name="dy"} : f32[B,16,14,14]
          %p = maxpool2d(%x) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,16,14,14]
          %g = maxpool2d_grad(%dy, %x) {kernel=[2,2], stride=[2,2], padding=[0,0], activation="relu"} : f32[B,16,28,28]
          %s = sum(%g) {axes=[0,2,3]} : f32[16]
          %g2 = maxpool2d_grad(%dy, %x) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,16,28,28]
          %s2 = sum(%g2) {axes=[-1,-2]} : f32[B,16]
          output "p" = %p
          output "g" = %g
          output "s" = %s
          output "s2" = %s2
        }
        """, context)
        assertFileCheck(out, """
        // CHECK: %[[X:[0-9]+]] = input() {name="x"}
        // CHECK: %[[DY:[0-9]+]] = input() {name="dy"}
        // CHECK: %[[P:[0-9]+]] = maxpool2d(%[[X]])
        // CHECK: %[[G:[0-9]+]] = maxpool2d_grad(%[[DY]], %[[X]])
        // CHECK: %[[S:[0-9]+]] = relu_grad_sum(%[[DY]], %[[P]]) {axes=[0,2,3]} : f32[16]
        // CHECK-NOT: maxpool2d_grad
        // CHECK: %[[S2:[0-9]+]] = sum(%[[DY]]) {axes=[-1,-2]} : f32[B,16]
        // CHECK: output "s" = %[[S]]
        // CHECK: output "s2" = %[[S2]]
        """)
        XCTAssertEqual(context.statistics.first { $0.pass == "pool-gradient-sums" }?["bias sums from pooled gradients"], 2)
    }

    /// Left alone: overlapping or padded windows, a sum that keeps a spatial axis or its dims,
    /// a relu fold with no forward pooling of that window to read, and everything when the
    /// pool-gradient fusion kind is off.
    func testOtherWindowsAxesAndTheSwitchStay() throws {
        let ir = """
        graph @g {
          %x = input() {name="x"} : f32[B,4,8,8]
          %dy = input() {name="dy"} : f32[B,4,4,4]
          %dz = input() {name="dz"} : f32[B,4,3,3]
          %dp = input() {name="dp"} : f32[B,4,5,5]
          %p = maxpool2d(%x) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,4,4,4]
          %a = maxpool2d_grad(%dz, %x) {kernel=[3,3], stride=[2,2], padding=[0,0]} : f32[B,4,8,8]
          %sa = sum(%a) {axes=[0,2,3]} : f32[4]
          %b = maxpool2d_grad(%dp, %x) {kernel=[2,2], stride=[2,2], padding=[1,1]} : f32[B,4,8,8]
          %sb = sum(%b) {axes=[0,2,3]} : f32[4]
          %c = maxpool2d_grad(%dy, %x) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,4,8,8]
          %sc = sum(%c) {axes=[0,2]} : f32[4,8]
          %sk = sum(%c) {axes=[0,2,3], keepdims=true} : f32[1,4,1,1]
          %d = maxpool2d_grad(%dy, %dy) {kernel=[1,1], stride=[1,1], padding=[0,0], activation="relu"} : f32[B,4,4,4]
          %sd = sum(%d) {axes=[0,2,3]} : f32[4]
          output "p" = %p
          output "sa" = %sa
          output "sb" = %sb
          output "sc" = %sc
          output "sk" = %sk
          output "sd" = %sd
        }
        """
        let out = try run(ir)
        XCTAssertFalse(out.contains("relu_grad_sum"), out)
        XCTAssertEqual(out.components(separatedBy: "= sum(%").count - 1, 5, out)
        XCTAssertFalse(out.contains("sum(%1)"), "no sum reads dy: \(out)")

        let folded = """
        graph @g {
          %x = input() {name="x"} : f32[B,4,8,8]
          %dy = input() {name="dy"} : f32[B,4,4,4]
          %p = maxpool2d(%x) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,4,4,4]
          %g = maxpool2d_grad(%dy, %x) {kernel=[2,2], stride=[2,2], padding=[0,0], activation="relu"} : f32[B,4,8,8]
          %s = sum(%g) {axes=[0,2,3]} : f32[4]
          output "p" = %p
          output "s" = %s
        }
        """
        XCTAssertTrue(try run(folded).contains("relu_grad_sum"))
        let off = PassContext.checked
        off.options.disabledFusions = [.poolGradient]
        XCTAssertFalse(try run(folded, off).contains("relu_grad_sum"))
    }
}
