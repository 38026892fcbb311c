import GraphIR
import Passes
import XCTest

final class AttentionScoresTests: XCTestCase {
    /// Show-attend-tell scores relu(enc + reshape(dec)) · wᵀ, the add's operands either way
    /// round: one additive_scores op each, the bias add kept, the reshape, add and relu gone.
    func testScoresBecomeOneOp() throws {
        for (lhs, rhs) in [("%enc", "%r"), ("%r", "%enc")] {
            let out = try runPasses("""
            graph @g {
              %enc = input() {name="enc"} : f32[B,6,4]
              %dec = input() {name="dec"} : f32[B,4]
              %w = param() {name="w"} : f32[1,4]
              %b = param() {name="b"} : f32[1]
              %r = reshape(%dec) {shape=shape[B,1,4]} : f32[B,1,4]
              %s = add(\(lhs), \(rhs)) : f32[B,6,4]
              %h = relu(%s) : f32[B,6,4]
              %y = matmul(%h, %w) {transpose_b=true} : f32[B,6,1]
              %z = add(%y, %b) : f32[B,6,1]
              output "scores" = %z
            }
            """, ["attention-scores", "dce", "verify"])
            assertFileCheck(out, """
            // CHECK: %[[E:[0-9]+]] = input() {name="enc"}
            // CHECK: %[[D:[0-9]+]] = input() {name="dec"}
            // CHECK: %[[W:[0-9]+]] = param() {name="w"}
            // CHECK: %[[B:[0-9]+]] = param() {name="b"}
            // CHECK-NOT: relu
            // CHECK: %[[Y:[0-9]+]] = additive_scores(%[[E]], %[[D]], %[[W]]) : f32[B,6,1]
            // CHECK-NEXT: %[[Z:[0-9]+]] = add(%[[Y]], %[[B]]) : f32[B,6,1]
            // CHECK-NEXT: output "scores" = %[[Z]]
            """)
        }
    }

    /// Left alone: the relu read elsewhere (its value must be written), a product with more
    /// than one output column, and a dec that is not one row per batch element.
    func testOnlySingleUseOneColumnPerBatchRow() throws {
        let cases = [("f32[1,4]", "output \"h\" = %h", "f32[B,6,1]", "f32[B,4]", "shape[B,1,4]"),
                     ("f32[2,4]", "", "f32[B,6,2]", "f32[B,4]", "shape[B,1,4]"),
                     ("f32[1,4]", "", "f32[B,6,1]", "f32[4]", "shape[1,1,4]")]
        for (wType, extra, yType, decType, rShape) in cases {
            let g = try parseIR("""
            graph @g {
              %enc = input() {name="enc"} : f32[B,6,4]
              %dec = input() {name="dec"} : \(decType)
              %w = param() {name="w"} : \(wType)
              %r = reshape(%dec) {shape=\(rShape)} : f32[\(rShape.dropFirst(6))
              %s = add(%enc, %r) : f32[B,6,4]
              %h = relu(%s) : f32[B,6,4]
              %y = matmul(%h, %w) {transpose_b=true} : \(yType)
              output "y" = %y
              \(extra)
            }
            """)
            XCTAssertTrue(try Pass.attentionScores.run(g) === g, "\(wType) \(extra) \(decType)")
        }
    }

    /// After autodiff, each step's gradient of enc is added into the sum of the later steps'
    /// by additive_scores_grad itself (its acc operand), the later gradient of the first add
    /// taken, the earlier one being the sum so far.
    func testGradientsOfEncAccumulateInTheGradOp() throws {
        let out = try runPasses("""
        graph @g {
          %dy0 = input() {name="dy0"} : f32[B,6,1]
          %dy1 = input() {name="dy1"} : f32[B,6,1]
          %dy2 = input() {name="dy2"} : f32[B,6,1]
          %enc = input() {name="enc"} : f32[B,6,4]
          %dec = input() {name="dec"} : f32[B,4]
          %w = param() {name="w"} : f32[1,4]
          %g0 = additive_scores_grad(%dy0, %enc, %dec, %w) : f32[B,6,4]
          %g1 = additive_scores_grad(%dy1, %enc, %dec, %w) : f32[B,6,4]
          %s1 = add(%g0, %g1) : f32[B,6,4]
          %g2 = additive_scores_grad(%dy2, %enc, %dec, %w) : f32[B,6,4]
          %s2 = add(%g2, %s1) : f32[B,6,4]
          output "sum" = %s2
        }
        """, ["fusion", "dce", "verify"])
        assertFileCheck(out, """
        // CHECK: %[[G0:[0-9]+]] = additive_scores_grad(%0, %3, %4, %5) : f32[B,6,4]
        // CHECK-NEXT: %[[S1:[0-9]+]] = additive_scores_grad(%1, %3, %4, %5, %[[G0]]) : f32[B,6,4]
        // CHECK-NEXT: %[[S2:[0-9]+]] = additive_scores_grad(%2, %3, %4, %5, %[[S1]]) : f32[B,6,4]
        // CHECK-NOT: add(
        // CHECK: output "sum" = %[[S2]]
        """)
    }

    /// The fusion tuner's switch: with the kind disabled the pass changes nothing.
    func testDisabledKindLeavesTheGraph() throws {
        let g = try parseIR("""
        graph @g {
          %enc = input() {name="enc"} : f32[B,6,4]
          %dec = input() {name="dec"} : f32[B,4]
          %w = param() {name="w"} : f32[1,4]
          %r = reshape(%dec) {shape=shape[B,1,4]} : f32[B,1,4]
          %s = add(%enc, %r) : f32[B,6,4]
          %h = relu(%s) : f32[B,6,4]
          %y = matmul(%h, %w) {transpose_b=true} : f32[B,6,1]
          output "y" = %y
        }
        """)
        var options = PassOptions()
        options.disabledFusions = [.attentionScores]
        XCTAssertTrue(try Pass.attentionScores.run(g, PassContext(options: options)) === g)
        XCTAssertFalse(try Pass.attentionScores.run(g) === g)
    }
}
