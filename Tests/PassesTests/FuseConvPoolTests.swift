import GraphIR
import Passes
import XCTest

/// IR in, IR out: which blocked convolutions take the 2x2 pooling after them into their store.
final class FuseConvPoolTests: XCTestCase {
    func fuse(_ ir: String, _ context: PassContext = .checked) throws -> String {
        IRPrinter.print(try Pipeline(["blocked-layout", "fuse-conv-pool", "dce", "verify"]).run(try parseIR(ir), context))
    }

    /// The Q2 CNN's two blocks: conv, ReLU, 2x2 pooling, twice; the image read as it is.
    func testConvReluPoolBecomesOneOpAndTheActivationIsGone() throws {
        let context = PassContext.checked
        let out = try fuse("""
        graph @g {
          %x = input() {name="x"} : f32[B,1,28,28]
          %w0 = param() {name="w0", init="zeros"} : f32[16,1,3,3]
          %b0 = param() {name="b0", init="zeros"} : f32[16]
          %c0 = conv2d(%x, %w0, %b0) {stride=[1,1], padding=[1,1]} : f32[B,16,28,28]
          %r0 = relu(%c0) : f32[B,16,28,28]
          %p0 = maxpool2d(%r0) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,16,14,14]
          %w1 = param() {name="w1", init="zeros"} : f32[32,16,3,3]
          %c1 = conv2d(%p0, %w1) {stride=[1,1], padding=[0,0]} : f32[B,32,12,12]
          %r1 = relu(%c1) : f32[B,32,12,12]
          %p1 = maxpool2d(%r1) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,32,6,6]
          output "y" = %p1
        }
        """, context)
        assertFileCheck(out, """
        // CHECK: %[[X:[0-9]+]] = input() {name="x"}
        // CHECK: %[[P0:[0-9]+]] = blocked_conv2d_maxpool(%[[X]], %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,1,14,14,16]
        // CHECK: %[[P1:[0-9]+]] = blocked_conv2d_maxpool(%[[P0]], %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}) {stride=[1,1], padding=[0,0], activation="relu"} : f32[B,2,6,6,16]
        // CHECK: %[[Y:[0-9]+]] = reorder_from_blocked(%[[P1]]) : f32[B,32,6,6]
        // CHECK-NOT: blocked_conv2d(
        // CHECK-NOT: blocked_maxpool2d
        // CHECK: output "y" = %[[Y]]
        """)
        XCTAssertEqual(context.statistics.first { $0.pass == "fuse-conv-pool" }?["convolutions pooled in their store"], 2)
    }

    /// Left alone: a convolution something else also reads, one with a residual, and a
    /// pooling of another window.
    func testSharedResidualAndOtherWindowsStay() throws {
        let out = try fuse("""
        graph @g {
          %x = input() {name="x"} : f32[B,16,8,8]
          %w = param() {name="w", init="zeros"} : f32[16,16,3,3]
          %c0 = conv2d(%x, %w) {stride=[1,1], padding=[1,1]} : f32[B,16,8,8]
          %p0 = maxpool2d(%c0) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,16,4,4]
          %c1 = conv2d(%x, %w) {stride=[1,1], padding=[1,1]} : f32[B,16,8,8]
          %s1 = add(%c1, %x) : f32[B,16,8,8]
          %p1 = maxpool2d(%s1) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,16,4,4]
          %c2 = conv2d(%x, %w) {stride=[1,1], padding=[1,1]} : f32[B,16,8,8]
          %p2 = maxpool2d(%c2) {kernel=[3,3], stride=[2,2], padding=[1,1]} : f32[B,16,4,4]
          output "a" = %p0
          output "c0" = %c0
          output "b" = %p1
          output "c" = %p2
        }
        """)
        assertFileCheck(out, """
        // CHECK: blocked_conv2d(
        // CHECK: blocked_maxpool2d({{.*}}kernel=[2,2]
        // CHECK: blocked_conv2d(
        // CHECK: blocked_maxpool2d({{.*}}kernel=[2,2]
        // CHECK: blocked_conv2d(
        // CHECK: blocked_maxpool2d({{.*}}kernel=[3,3]
        // CHECK-NOT: blocked_conv2d_maxpool
        """)
    }
}
