import GraphIR
import Passes
import XCTest

/// The blocked-layout pass runs each convolution as `PassOptions.convolutionChooser` picks:
/// which candidates a layer gets, and the ops each choice makes.
final class ConvolutionAlgorithmTests: XCTestCase {
    /// The image convolution (3 channels, 7x7 stride 2), a 3x3 stride-1 residual block's two
    /// convolutions and a 1x1 one.
    let network = """
    graph @g {
      %x = input() {name="x"} : f32[2,3,32,32]
      %w0 = param() {name="w0", init="zeros"} : f32[16,3,7,7]
      %c0 = conv2d(%x, %w0) {stride=[2,2], padding=[3,3]} : f32[2,16,16,16]
      %r0 = relu(%c0) : f32[2,16,16,16]
      %w1 = param() {name="w1", init="zeros"} : f32[16,16,3,3]
      %c1 = conv2d(%r0, %w1) {stride=[1,1], padding=[1,1]} : f32[2,16,16,16]
      %g = param() {name="g", init="ones"} : f32[16]
      %b = param() {name="b", init="zeros"} : f32[16]
      %m = param() {name="m", init="zeros"} : f32[16]
      %v = param() {name="v", init="ones"} : f32[16]
      %n1 = batch_norm(%c1, %g, %b, %m, %v) {eps=1e-05} : f32[2,16,16,16]
      %s = add(%n1, %r0) : f32[2,16,16,16]
      %r1 = relu(%s) : f32[2,16,16,16]
      %w2 = param() {name="w2", init="zeros"} : f32[32,16,1,1]
      %c2 = conv2d(%r1, %w2) {stride=[1,1], padding=[0,0]} : f32[2,32,16,16]
      output "y" = %c2
    }
    """

    /// Runs the pass with `chooser`, recording what it was asked.
    func run(_ chooser: @escaping ConvolutionChooser) throws -> (ir: String, asked: [(ConvolutionLayer, [ConvolutionAlgorithm])], context: PassContext) {
        let asked = Asked()
        var options = PassOptions()
        options.verifyEach = true
        options.convolutionChooser = { layer, candidates in
            asked.add(layer, candidates)
            return chooser(layer, candidates)
        }
        let context = PassContext(options: options)
        let g = try Pipeline(["blocked-layout", "dce", "verify"]).run(try parseIR(network), context)
        return (IRPrinter.print(g), asked.all, context)
    }

    func testOnlyThreeByThreeStrideOneLayersOverBlockedInputsMayUseWinograd() throws {
        let (ir, asked, context) = try run(ConvolutionAlgorithm.winograd.chooser)
        XCTAssertEqual(asked.map { $0.1 }, [[.blocked, .im2col], [.blocked, .winograd, .im2col], [.blocked, .im2col]])
        let layer = asked[1].0
        XCTAssertEqual(layer, ConvolutionLayer(batch: 2, inChannels: 16, height: 16, width: 16, outChannels: 16, kernel: [3, 3],
                                               stride: [1, 1], padding: [1, 1], residual: true, relu: true))
        assertFileCheck(ir, """
        // CHECK: %[[C0:[0-9]+]] = blocked_conv2d(
        // CHECK: %[[U:[0-9]+]] = winograd_weight_transform(%{{[0-9]+}}) : f32[36,1,16,16]
        // CHECK: %[[C1:[0-9]+]] = winograd_conv2d(%[[C0]], %[[U]], %{{[0-9]+}}, %{{[0-9]+}}, %[[C0]]) {stride=[1,1], padding=[1,1], activation="relu"} : f32[2,1,16,16,16]
        // CHECK: blocked_conv2d(%[[C1]],
        // CHECK-NOT: conv2d(
        """)
        let stats = try XCTUnwrap(context.statistics.first { $0.pass == "blocked-layout" })
        XCTAssertEqual(stats["convolutions by Winograd"], 1)
        XCTAssertEqual(stats["convolutions blocked"], 2)
    }

    /// A layer left to im2col stays conv2d over the plain layout, its neighbours reordered, and
    /// says so (`form="im2col"`), so the runtime runs im2col rather than measuring again.
    func testIm2colLeavesTheConvolutionAndReordersAroundIt() throws {
        let (ir, _, context) = try run { layer, candidates in layer.kernel == [3, 3] ? .im2col : candidates[0] }
        assertFileCheck(ir, """
        // CHECK: %[[C0:[0-9]+]] = blocked_conv2d(
        // CHECK: %[[P:[0-9]+]] = reorder_from_blocked(%[[C0]])
        // CHECK: %[[C1:[0-9]+]] = conv2d(%[[P]], %{{[0-9]+}}) {stride=[1,1], padding=[1,1], form="im2col"}
        // CHECK: batch_norm(%[[C1]],
        // CHECK: blocked_conv2d(
        """)
        let stats = try XCTUnwrap(context.statistics.first { $0.pass == "blocked-layout" })
        XCTAssertEqual(stats["convolutions left to im2col"], 1)
        XCTAssertEqual(stats["convolutions blocked"], 2)
    }

    /// Without a chooser every layer takes the fixed default, the blocked convolution.
    func testWithoutAChooserEveryLayerIsBlocked() throws {
        let context = PassContext(options: PassOptions(verifyEach: true))
        let ir = IRPrinter.print(try Pipeline(["blocked-layout", "dce", "verify"]).run(try parseIR(network), context))
        XCTAssertFalse(ir.contains("winograd"))
        XCTAssertEqual(context.statistics.first { $0.pass == "blocked-layout" }?["convolutions blocked"], 3)
    }

    /// Only the `ConvolutionForm` names (im2col, direct, rows, winograd) name a form; anything else is an error at the attribute.
    func testTheFormAttributeTakesOnlyTheNamedForms() throws {
        let bad = network.replacingOccurrences(of: "{stride=[1,1], padding=[0,0]}", with: "{stride=[1,1], padding=[0,0], form=\"fft\"}")
        XCTAssertThrowsError(try parseIR(bad)) { error in
            XCTAssertTrue("\(error)".contains("form"), "\(error)")
        }
        let good = network.replacingOccurrences(of: "{stride=[1,1], padding=[0,0]}", with: "{stride=[1,1], padding=[0,0], form=\"direct\"}")
        XCTAssertNoThrow(try parseIR(good))
    }
}

/// What a chooser was asked, in order (the pass asks from one thread).
private final class Asked: @unchecked Sendable {
    var all: [(ConvolutionLayer, [ConvolutionAlgorithm])] = []
    func add(_ layer: ConvolutionLayer, _ candidates: [ConvolutionAlgorithm]) { all.append((layer, candidates)) }
}
