import GraphIR
import Passes
import XCTest

/// IR in, IR out: which convolutions are pooled in their store, their weight gradients
/// recomputing the windows.
final class RecomputePooledConvolutionsTests: XCTestCase {
    func run(_ ir: String, _ context: PassContext = .checked) throws -> String {
        IRPrinter.print(try Pipeline(["recompute-pooled-convolutions", "dce", "verify"]).run(try parseIR(ir), context))
    }

    /// The CNN's first block as pooled-weight-gradients leaves it, with `body` after the image,
    /// weight, bias, convolution and pooling (%dp, the pooled gradient, is an input).
    func block(conv: String = #"fused_conv2d(%x, %w, %b) {stride=[1,1], padding=[1,1], activation="relu"}"#,
               channels: Int = 1, gradient: String = #"pooled_conv2d_grad_weight(%dp, %y, %x, %w) {stride=[1,1], padding=[1,1], activation="relu"}"#,
               extra: String = "") -> String {
        """
        graph @g {
          %x = input() {name="image"} : f32[B,\(channels),28,28]
          %w = param() {name="w", init="zeros"} : f32[16,\(channels),3,3]
          %b = param() {name="b", init="zeros"} : f32[16]
          %y = \(conv) : f32[B,16,28,28]
          %p = maxpool2d(%y) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,16,14,14]
          %dp = input() {name="dp"} : f32[B,16,14,14]
          %dw = \(gradient) : f32[16,\(channels),3,3]
          %db = relu_grad_sum(%dp, %p) {axes=[0,2,3]} : f32[16]
          output "p" = %p
          output "dw" = %dw
          output "db" = %db
        \(extra)}
        """
    }

    /// The pooling reads the image, weight and bias through one kernel; the weight gradient
    /// reads them instead of the convolution's output, which is gone; the bias gradient still
    /// reads the pooled output. Prints and parses back to the same text.
    func testTheConvolutionIsPooledInItsStoreAndRecomputed() throws {
        let context = PassContext.checked
        let out = try run(block(), context)
        assertFileCheck(out, """
        // CHECK: %[[X:[0-9]+]] = input() {name="image"}
        // CHECK: %[[W:[0-9]+]] = param() {name="w"
        // CHECK: %[[B:[0-9]+]] = param() {name="b"
        // CHECK-NOT: fused_conv2d(
        // CHECK: %[[P:[0-9]+]] = fused_conv2d_maxpool(%[[X]], %[[W]], %[[B]]) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,16,14,14]
        // CHECK: %[[DP:[0-9]+]] = input() {name="dp"}
        // CHECK: %[[DW:[0-9]+]] = recomputed_pooled_conv2d_grad_weight(%[[DP]], %[[X]], %[[W]], %[[B]]) {stride=[1,1], padding=[1,1], activation="relu"} : f32[16,1,3,3]
        // CHECK: relu_grad_sum(%[[DP]], %[[P]])
        // CHECK-NOT: pooled_conv2d_grad_weight(
        // CHECK: output "dw" = %[[DW]]
        """)
        XCTAssertEqual(context.statistics.first { $0.pass == "recompute-pooled-convolutions" }?[FusionKind.recomputedPooledConvolution.counter], 1)
        XCTAssertEqual(IRPrinter.print(try parseIR(out)), out)
    }

    /// Without bias or relu (and with the convolution's `form`, which the new ops do not take).
    func testNoBiasNoActivation() throws {
        let out = try run(block(conv: #"fused_conv2d(%x, %w) {stride=[1,1], padding=[1,1], activation="none", form="rows"}"#,
                                gradient: "pooled_conv2d_grad_weight(%dp, %y, %x, %w) {stride=[1,1], padding=[1,1]}"))
        assertFileCheck(out, """
        // CHECK: fused_conv2d_maxpool(%[[X:[0-9]+]], %[[W:[0-9]+]]) {stride=[1,1], padding=[1,1]} : f32[B,16,14,14]
        // CHECK: recomputed_pooled_conv2d_grad_weight(%{{[0-9]+}}, %[[X]], %[[W]]) {stride=[1,1], padding=[1,1]} : f32[16,1,3,3]
        """)
    }

    /// Left alone: the convolution's output read by a third op (here a graph output); too many
    /// input channels (the recomputation would repeat a costly convolution); the gradient's
    /// activation differing from the convolution's; the rewrite switched off.
    func testLeftAloneWhereItDoesNotFit() throws {
        let cases: [(String, String, PassContext)] = [
            ("third reader", block(extra: "  output \"y\" = %y\n"), .checked),
            ("8 input channels", block(channels: 8), .checked),
            ("activation differs", block(gradient: "pooled_conv2d_grad_weight(%dp, %y, %x, %w) {stride=[1,1], padding=[1,1]}"), .checked),
            ("switched off", block(), {
                var o = PassOptions(verifyEach: true)
                o.disabledFusions = [.recomputedPooledConvolution]
                return PassContext(options: o)
            }()),
        ]
        for (what, ir, context) in cases {
            let out = try run(ir, context)
            XCTAssertFalse(out.contains("fused_conv2d_maxpool") || out.contains("recomputed_pooled"), what)
            XCTAssertTrue(out.contains("pooled_conv2d_grad_weight(") && out.contains("maxpool2d("), what)
        }
    }
}
