import GraphIR
import Passes
import XCTest

/// IR in, IR out: which convolution weight gradients are taken from their max pooling's
/// pooled gradient.
final class PooledWeightGradientsTests: XCTestCase {
    func run(_ ir: String, _ context: PassContext = .checked) throws -> String {
        IRPrinter.print(try Pipeline(["pooled-weight-gradients", "dce", "verify"]).run(try parseIR(ir), context))
    }

    /// The CNN's first block as fusion and pool-gradient-sums leave its backward: the pool
    /// gradient's only user is the weight gradient, which now reads the pooled gradient, the
    /// convolution's output and the image; the pool gradient is gone. Without the relu fold the
    /// op has no activation. The result prints and parses back to the same text.
    func testTheWeightGradientReadsThePooledGradient() throws {
        let context = PassContext.checked
        let out = try run("""
        graph @g {
          %x = input() {name="image"} : f32[B,1,28,28]
          %w = param() {name="w", init="zeros"} : f32[16,1,3,3]
          %b = param() {name="b", init="zeros"} : f32[16]
          %y = fused_conv2d(%x, %w, %b) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,16,28,28]
          %p = maxpool2d(%y) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,16,14,14]
          %dp = input() {name="dp"} : f32[B,16,14,14]
          %g = maxpool2d_grad(%dp, %y) {kernel=[2,2], stride=[2,2], padding=[0,0], activation="relu"} : f32[B,16,28,28]
          %dw = conv2d_grad_weight(%g, %x, %w) {stride=[1,1], padding=[1,1]} : f32[16,1,3,3]
          %g2 = maxpool2d_grad(%dp, %y) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,16,28,28]
          %dw2 = conv2d_grad_weight(%g2, %x, %w) {stride=[1,1], padding=[1,1]} : f32[16,1,3,3]
          output "p" = %p
          output "dw" = %dw
          output "dw2" = %dw2
        }
        """, context)
        assertFileCheck(out, """
        // CHECK: %[[X:[0-9]+]] = input() {name="image"}
        // CHECK: %[[W:[0-9]+]] = param() {name="w"
        // CHECK: %[[Y:[0-9]+]] = fused_conv2d(%[[X]]
        // CHECK: %[[DP:[0-9]+]] = input() {name="dp"}
        // CHECK-NOT: maxpool2d_grad
        // CHECK: %[[DW:[0-9]+]] = pooled_conv2d_grad_weight(%[[DP]], %[[Y]], %[[X]], %[[W]]) {stride=[1,1], padding=[1,1], activation="relu"} : f32[16,1,3,3]
        // CHECK-NOT: maxpool2d_grad
        // CHECK: %[[DW2:[0-9]+]] = pooled_conv2d_grad_weight(%[[DP]], %[[Y]], %[[X]], %[[W]]) {stride=[1,1], padding=[1,1]} : f32[16,1,3,3]
        // CHECK: output "dw" = %[[DW]]
        // CHECK: output "dw2" = %[[DW2]]
        """)
        XCTAssertEqual(context.statistics.first { $0.pass == "pooled-weight-gradients" }?[FusionKind.pooledWeightGradient.counter], 2)
        XCTAssertEqual(IRPrinter.print(try parseIR(out)), out)
    }

    /// A convolution written with `groups=1` (one group, as without the attribute) is rewritten
    /// too, and the op it becomes does not carry `groups` (not one of its attributes: the
    /// verifier would refuse the graph).
    func testAnExplicitSingleGroupIsDropped() throws {
        let out = try run("""
        graph @g {
          %x = input() {name="x"} : f32[B,2,8,8]
          %dp = input() {name="dp"} : f32[B,4,4,4]
          %w = param() {name="w", init="zeros"} : f32[4,2,3,3]
          %y = conv2d(%x, %w) {stride=[1,1], padding=[1,1], groups=1} : f32[B,4,8,8]
          %a = maxpool2d_grad(%dp, %y) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,4,8,8]
          %da = conv2d_grad_weight(%a, %x, %w) {stride=[1,1], padding=[1,1], groups=1} : f32[4,2,3,3]
          output "da" = %da
        }
        """)
        assertFileCheck(out, """
        // CHECK: pooled_conv2d_grad_weight({{.*}}) {stride=[1,1], padding=[1,1]} : f32[4,2,3,3]
        """)
    }

    /// Left alone: a pool gradient with another user (or that is an output), a 5x5 or strided
    /// or dilated convolution, a pooling that is not 2x2 stride 2, odd sides, and everything when
    /// the pooled-weight-gradients fusion kind is off.
    func testOtherGradientsAndTheSwitchStay() throws {
        let ir = """
        graph @g {
          %x = input() {name="x"} : f32[B,2,8,8]
          %dp = input() {name="dp"} : f32[B,4,4,4]
          %w3 = param() {name="w3", init="zeros"} : f32[4,2,3,3]
          %w5 = param() {name="w5", init="zeros"} : f32[4,2,5,5]
          %y = conv2d(%x, %w3) {stride=[1,1], padding=[1,1]} : f32[B,4,8,8]
          %a = maxpool2d_grad(%dp, %y) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,4,8,8]
          %da = conv2d_grad_weight(%a, %x, %w3) {stride=[1,1], padding=[1,1]} : f32[4,2,3,3]
          %dx = conv2d_grad_input(%a, %w3, %x) {stride=[1,1], padding=[1,1]} : f32[B,2,8,8]
          %b = maxpool2d_grad(%dp, %y) {kernel=[2,2], stride=[2,2], padding=[0,0], activation="relu"} : f32[B,4,8,8]
          %db = conv2d_grad_weight(%b, %x, %w5) {stride=[1,1], padding=[2,2]} : f32[4,2,5,5]
          %c = maxpool2d_grad(%dp, %y) {kernel=[2,2], stride=[2,2], padding=[0,0], ceil_mode=false, dilation=[1,1]} : f32[B,4,8,8]
          %dc = conv2d_grad_weight(%c, %x, %w3) {stride=[1,1], padding=[2,2], dilation=[2,2]} : f32[4,2,3,3]
          %xs = input() {name="xs"} : f32[B,2,16,16]
          %d = maxpool2d_grad(%dp, %y) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,4,8,8]
          %dd = conv2d_grad_weight(%d, %xs, %w3) {stride=[2,2], padding=[1,1]} : f32[4,2,3,3]
          %dq = input() {name="dq"} : f32[B,4,3,3]
          %e = maxpool2d_grad(%dq, %y) {kernel=[3,3], stride=[2,2], padding=[0,0]} : f32[B,4,8,8]
          %de = conv2d_grad_weight(%e, %x, %w3) {stride=[1,1], padding=[1,1]} : f32[4,2,3,3]
          %xo = input() {name="xo"} : f32[B,2,7,7]
          %yo = conv2d(%xo, %w3) {stride=[1,1], padding=[1,1]} : f32[B,4,7,7]
          %dr = input() {name="dr"} : f32[B,4,3,3]
          %f = maxpool2d_grad(%dr, %yo) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,4,7,7]
          %df = conv2d_grad_weight(%f, %xo, %w3) {stride=[1,1], padding=[1,1]} : f32[4,2,3,3]
          %h = maxpool2d_grad(%dp, %y) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,4,8,8]
          %dh = conv2d_grad_weight(%h, %x, %w3) {stride=[1,1], padding=[1,1]} : f32[4,2,3,3]
          output "da" = %da
          output "dx" = %dx
          output "db" = %db
          output "dc" = %dc
          output "dd" = %dd
          output "de" = %de
          output "df" = %df
          output "h" = %h
          output "dh" = %dh
        }
        """
        let out = try run(ir)
        XCTAssertFalse(out.contains("pooled_conv2d_grad_weight"), out)
        XCTAssertEqual(out.components(separatedBy: "= maxpool2d_grad(").count - 1, 7, out)

        let single = """
        graph @g {
          %x = input() {name="x"} : f32[B,2,8,8]
          %dp = input() {name="dp"} : f32[B,4,4,4]
          %w3 = param() {name="w3", init="zeros"} : f32[4,2,3,3]
          %y = conv2d(%x, %w3) {stride=[1,1], padding=[1,1]} : f32[B,4,8,8]
          %a = maxpool2d_grad(%dp, %y) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,4,8,8]
          %da = conv2d_grad_weight(%a, %x, %w3) {stride=[1,1], padding=[1,1]} : f32[4,2,3,3]
          output "da" = %da
        }
        """
        XCTAssertTrue(try run(single).contains("pooled_conv2d_grad_weight"))
        let off = PassContext.checked
        off.options.disabledFusions = [.pooledWeightGradient]
        XCTAssertFalse(try run(single, off).contains("pooled_conv2d_grad_weight"))
    }
}
