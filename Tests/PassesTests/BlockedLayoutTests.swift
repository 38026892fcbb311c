import GraphIR
import Passes
import XCTest

/// IR in, IR out: which convolutions the blocked-layout pass takes, what joins their store,
/// and where values are reordered.
final class BlockedLayoutTests: XCTestCase {
    func block(_ ir: String, _ context: PassContext = .checked) throws -> String {
        IRPrinter.print(try Pipeline(["blocked-layout", "dce", "verify"]).run(try parseIR(ir), context))
    }

    /// A residual block: conv, BatchNorm, ReLU, conv, BatchNorm, add, ReLU, then pooling. The
    /// image (3 channels) is read as it is; nothing is reordered until the output.
    func testResidualBlockStaysBlockedUntilItsOutput() throws {
        let context = PassContext()
        let out = try block("""
        graph @g {
          %x = input() {name="x"} : f32[B,3,16,16]
          %w0 = param() {name="w0", init="zeros"} : f32[16,3,3,3]
          %c0 = conv2d(%x, %w0) {stride=[1,1], padding=[1,1]} : f32[B,16,16,16]
          %g = param() {name="g", init="ones"} : f32[16]
          %b = param() {name="b", init="zeros"} : f32[16]
          %m = param() {name="m", init="zeros"} : f32[16]
          %v = param() {name="v", init="ones"} : f32[16]
          %n0 = batch_norm(%c0, %g, %b, %m, %v) {eps=1e-05} : f32[B,16,16,16]
          %r0 = relu(%n0) : f32[B,16,16,16]
          %w1 = param() {name="w1", init="zeros"} : f32[16,16,3,3]
          %c1 = conv2d(%r0, %w1) {stride=[1,1], padding=[1,1]} : f32[B,16,16,16]
          %n1 = batch_norm(%c1, %g, %b, %m, %v) {eps=1e-05} : f32[B,16,16,16]
          %s = add(%n1, %r0) : f32[B,16,16,16]
          %r1 = relu(%s) : f32[B,16,16,16]
          %p = maxpool2d(%r1) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,16,8,8]
          output "y" = %p
        }
        """, context)
        assertFileCheck(out, """
        // CHECK: %[[X:[0-9]+]] = input() {name="x"}
        // CHECK-NOT: reorder_to_blocked
        // CHECK: %[[P0:[0-9]+]] = pack_conv_weight(%{{[0-9]+}}) {in_block=1} : f32[1,3,3,3,1,16]
        // CHECK: %[[C0:[0-9]+]] = blocked_conv2d(%[[X]], %[[P0]], %{{[0-9]+}}, %{{[0-9]+}}) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,1,16,16,16]
        // CHECK: %[[P1:[0-9]+]] = pack_conv_weight(%{{[0-9]+}}) {in_block=16} : f32[1,1,3,3,16,16]
        // CHECK: %[[C1:[0-9]+]] = blocked_conv2d(%[[C0]], %[[P1]], %{{[0-9]+}}, %{{[0-9]+}}, %[[C0]]) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,1,16,16,16]
        // CHECK: %[[MP:[0-9]+]] = blocked_maxpool2d(%[[C1]]) {kernel=[2,2], stride=[2,2], padding=[0,0]} : f32[B,1,8,8,16]
        // CHECK: %[[Y:[0-9]+]] = reorder_from_blocked(%[[MP]]) : f32[B,16,8,8]
        // CHECK-NOT: conv2d(
        // CHECK-NOT: batch_norm
        // CHECK: output "y" = %[[Y]]
        """)
        let stats = try XCTUnwrap(context.statistics.first { $0.pass == "blocked-layout" })
        XCTAssertEqual(stats["convolutions blocked"], 2)
        XCTAssertEqual(stats["poolings blocked"], 1)
        XCTAssertEqual(stats["reorders to blocked"], 0)
        XCTAssertEqual(stats["reorders from blocked"], 1)
    }

    /// Padding written per end ([top, left, bottom, right], as the ONNX importer writes every
    /// Conv's and MaxPool's pads) is blocked when both ends of each axis match, and written as
    /// [h, w] on the blocked op; uneven padding stays conv2d.
    func testEvenFourValuePaddingIsBlockedAndUnevenIsNot() throws {
        let context = PassContext()
        let out = try block("""
        graph @g {
          %x = input() {name="x"} : f32[B,16,8,8]
          %w = param() {name="w", init="zeros"} : f32[16,16,3,3]
          %c0 = conv2d(%x, %w) {stride=[1,1], padding=[1,1,1,1]} : f32[B,16,8,8]
          %r0 = relu(%c0) : f32[B,16,8,8]
          %p = maxpool2d(%r0) {kernel=[3,3], stride=[1,1], padding=[1,1,1,1]} : f32[B,16,8,8]
          %c1 = conv2d(%p, %w) {stride=[1,1], padding=[1,1,0,0]} : f32[B,16,7,7]
          output "y" = %c1
        }
        """, context)
        assertFileCheck(out, """
        // CHECK: %[[C0:[0-9]+]] = blocked_conv2d(%{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}, %{{[0-9]+}}) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,1,8,8,16]
        // CHECK: %[[MP:[0-9]+]] = blocked_maxpool2d(%[[C0]]) {kernel=[3,3], stride=[1,1], padding=[1,1]} : f32[B,1,8,8,16]
        // CHECK: %[[PL:[0-9]+]] = reorder_from_blocked(%[[MP]]) : f32[B,16,8,8]
        // CHECK: conv2d(%[[PL]], %{{[0-9]+}}) {stride=[1,1], padding=[1,1,0,0]} : f32[B,16,7,7]
        """)
        let stats = try XCTUnwrap(context.statistics.first { $0.pass == "blocked-layout" })
        XCTAssertEqual(stats["convolutions blocked"], 1)
        XCTAssertEqual(stats["poolings blocked"], 1)
    }

    /// A blocked input is reordered once however many convolutions read it; a value another
    /// op reads in the plain layout is reordered back once; a convolution whose channels are
    /// not whole blocks stays conv2d.
    func testReordersOnceEachWayAndLeavesOddChannelsAlone() throws {
        let context = PassContext()
        let out = try block("""
        graph @g {
          %x = input() {name="x"} : f32[B,32,8,8]
          %w = param() {name="w", init="zeros"} : f32[16,32,1,1]
          %a = conv2d(%x, %w) {stride=[1,1], padding=[0,0]} : f32[B,16,8,8]
          %c = conv2d(%x, %w) {stride=[2,2], padding=[0,0]} : f32[B,16,4,4]
          %t = tanh(%a) : f32[B,16,8,8]
          %w2 = param() {name="w2", init="zeros"} : f32[10,32,1,1]
          %d = conv2d(%x, %w2) {stride=[1,1], padding=[0,0]} : f32[B,10,8,8]
          output "t" = %t
          output "c" = %c
          output "d" = %d
        }
        """, context)
        assertFileCheck(out, """
        // CHECK: %[[X:[0-9]+]] = input() {name="x"}
        // CHECK: %[[XB:[0-9]+]] = reorder_to_blocked(%[[X]]) : f32[B,2,8,8,16]
        // CHECK: %[[A:[0-9]+]] = blocked_conv2d(%[[XB]],
        // CHECK: %[[C:[0-9]+]] = blocked_conv2d(%[[XB]],
        // CHECK: %[[AP:[0-9]+]] = reorder_from_blocked(%[[A]]) : f32[B,16,8,8]
        // CHECK: tanh(%[[AP]])
        // CHECK: conv2d(%[[X]], %{{[0-9]+}}) {stride=[1,1], padding=[0,0]} : f32[B,10,8,8]
        // CHECK: %[[CP:[0-9]+]] = reorder_from_blocked(%[[C]]) : f32[B,16,4,4]
        """)
        let stats = try XCTUnwrap(context.statistics.first { $0.pass == "blocked-layout" })
        XCTAssertEqual(stats["reorders to blocked"], 1)
        XCTAssertEqual(stats["reorders from blocked"], 2)
    }
}
