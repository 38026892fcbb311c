import GraphIR
import Passes
import XCTest

/// IR in, IR out: which chains of attention score gradients become one sum over the steps.
final class AttentionGradSumsTests: XCTestCase {
    func run(_ ir: String, _ context: PassContext = .checked) throws -> String {
        IRPrinter.print(try Pipeline(["attention-grad-sums", "dce", "verify"]).run(try parseIR(ir), context))
    }

    /// Three steps as fusion leaves a decoder's backward: the chain becomes one op over the
    /// steps' dy and dec, first step first; the links before the last are gone.
    func testAChainBecomesOneSum() throws {
        let context = PassContext.checked
        let out = try run("""
        graph @g {
          %enc = input() {name="enc"} : f32[B,6,4]
          %w = input() {name="w"} : f32[1,4]
          %d0 = input() {name="d0"} : f32[B,4]
          %d1 = input() {name="d1"} : f32[B,4]
          %d2 = input() {name="d2"} : f32[B,4]
          %y0 = input() {name="y0"} : f32[B,6,1]
          %y1 = input() {name="y1"} : f32[B,6,1]
          %y2 = input() {name="y2"} : f32[B,6,1]
          %g2 = additive_scores_grad(%y2, %enc, %d2, %w) : f32[B,6,4]
          %g1 = additive_scores_grad(%y1, %enc, %d1, %w, %g2) : f32[B,6,4]
          %g0 = additive_scores_grad(%y0, %enc, %d0, %w, %g1) : f32[B,6,4]
          output "g" = %g0
        }
        """, context)
        assertFileCheck(out, """
        // CHECK: %[[ENC:[0-9]+]] = input() {name="enc"}
        // CHECK: %[[W:[0-9]+]] = input() {name="w"}
        // CHECK: %[[D0:[0-9]+]] = input() {name="d0"}
        // CHECK: %[[D1:[0-9]+]] = input() {name="d1"}
        // CHECK: %[[D2:[0-9]+]] = input() {name="d2"}
        // CHECK: %[[Y0:[0-9]+]] = input() {name="y0"}
        // CHECK: %[[Y1:[0-9]+]] = input() {name="y1"}
        // CHECK: %[[Y2:[0-9]+]] = input() {name="y2"}
        // CHECK-NOT: additive_scores_grad(
        // CHECK: %[[G:[0-9]+]] = additive_scores_grad_sum(%[[ENC]], %[[W]], %[[Y2]], %[[D2]], %[[Y1]], %[[D1]], %[[Y0]], %[[D0]]) : f32[B,6,4]
        // CHECK-NOT: additive_scores_grad(
        // CHECK: output "g" = %[[G]]
        """)
        XCTAssertEqual(context.statistics.first { $0.pass == "attention-grad-sums" }?["attention gradient chains summed"], 1)
    }

    /// The form autodiff leaves (before fusion): chains of adds over one gradient per step, of
    /// enc and of the scoring weight, each become one sum, the chain's first terms first.
    func testAddChainsBecomeSums() throws {
        let context = PassContext.checked
        let out = try run("""
        graph @g {
          %enc = input() {name="enc"} : f32[B,6,4]
          %w = input() {name="w"} : f32[1,4]
          %d0 = input() {name="d0"} : f32[B,4]
          %d1 = input() {name="d1"} : f32[B,4]
          %d2 = input() {name="d2"} : f32[B,4]
          %y0 = input() {name="y0"} : f32[B,6,1]
          %y1 = input() {name="y1"} : f32[B,6,1]
          %y2 = input() {name="y2"} : f32[B,6,1]
          %g2 = additive_scores_grad(%y2, %enc, %d2, %w) : f32[B,6,4]
          %v2 = additive_scores_weight_grad(%y2, %enc, %d2) : f32[1,4]
          %g1 = additive_scores_grad(%y1, %enc, %d1, %w) : f32[B,6,4]
          %v1 = additive_scores_weight_grad(%y1, %enc, %d1) : f32[1,4]
          %s1 = add(%g2, %g1) : f32[B,6,4]
          %t1 = add(%v2, %v1) : f32[1,4]
          %g0 = additive_scores_grad(%y0, %enc, %d0, %w) : f32[B,6,4]
          %v0 = additive_scores_weight_grad(%y0, %enc, %d0) : f32[1,4]
          %s0 = add(%g0, %s1) : f32[B,6,4]
          %t0 = add(%t1, %v0) : f32[1,4]
          output "g" = %s0
          output "v" = %t0
        }
        """, context)
        assertFileCheck(out, """
        // CHECK: %[[ENC:[0-9]+]] = input() {name="enc"}
        // CHECK: %[[W:[0-9]+]] = input() {name="w"}
        // CHECK: %[[D0:[0-9]+]] = input() {name="d0"}
        // CHECK: %[[D1:[0-9]+]] = input() {name="d1"}
        // CHECK: %[[D2:[0-9]+]] = input() {name="d2"}
        // CHECK: %[[Y0:[0-9]+]] = input() {name="y0"}
        // CHECK: %[[Y1:[0-9]+]] = input() {name="y1"}
        // CHECK: %[[Y2:[0-9]+]] = input() {name="y2"}
        // CHECK-NOT: add(
        // CHECK: %[[G:[0-9]+]] = additive_scores_grad_sum(%[[ENC]], %[[W]], %[[Y2]], %[[D2]], %[[Y1]], %[[D1]], %[[Y0]], %[[D0]]) : f32[B,6,4]
        // CHECK: %[[V:[0-9]+]] = additive_scores_weight_grad_sum(%[[ENC]], %[[Y2]], %[[D2]], %[[Y1]], %[[D1]], %[[Y0]], %[[D0]]) : f32[1,4]
        // CHECK-NOT: add(
        // CHECK: output "g" = %[[G]]
        // CHECK: output "v" = %[[V]]
        """)
        XCTAssertEqual(context.statistics.first { $0.pass == "attention-grad-sums" }?["attention gradient chains summed"], 2)
    }

    /// Left alone: a link read by something else too (its sum so far is needed), links that
    /// differ in enc, a chain whose first op already adds an accumulator of its own, a lone
    /// op; and every chain when the kind is turned off.
    func testSharedLinksOtherOperandsAndTheSwitchStay() throws {
        let ir = """
        graph @g {
          %enc = input() {name="enc"} : f32[B,6,4]
          %enc2 = input() {name="enc2"} : f32[B,6,4]
          %w = input() {name="w"} : f32[1,4]
          %d = input() {name="d"} : f32[B,4]
          %y = input() {name="y"} : f32[B,6,1]
          %acc = input() {name="acc"} : f32[B,6,4]
          %a0 = additive_scores_grad(%y, %enc, %d, %w) : f32[B,6,4]
          %a1 = additive_scores_grad(%y, %enc, %d, %w, %a0) : f32[B,6,4]
          %b0 = additive_scores_grad(%y, %enc, %d, %w) : f32[B,6,4]
          %b1 = additive_scores_grad(%y, %enc2, %d, %w, %b0) : f32[B,6,4]
          %c0 = additive_scores_grad(%y, %enc, %d, %w, %acc) : f32[B,6,4]
          %c1 = additive_scores_grad(%y, %enc, %d, %w, %c0) : f32[B,6,4]
          %lone = additive_scores_grad(%y, %enc, %d, %w) : f32[B,6,4]
          output "a0" = %a0
          output "a1" = %a1
          output "b1" = %b1
          output "c1" = %c1
          output "lone" = %lone
        }
        """
        let context = PassContext.checked
        let out = try run(ir, context)
        XCTAssertFalse(out.contains("additive_scores_grad_sum"), out)
        XCTAssertEqual(context.statistics.first { $0.pass == "attention-grad-sums" }?["attention gradient chains summed"] ?? 0, 0)

        let chain = """
        graph @g {
          %enc = input() {name="enc"} : f32[B,6,4]
          %w = input() {name="w"} : f32[1,4]
          %d = input() {name="d"} : f32[B,4]
          %y = input() {name="y"} : f32[B,6,1]
          %a0 = additive_scores_grad(%y, %enc, %d, %w) : f32[B,6,4]
          %a1 = additive_scores_grad(%y, %enc, %d, %w, %a0) : f32[B,6,4]
          output "a1" = %a1
        }
        """
        XCTAssertTrue(try run(chain).contains("additive_scores_grad_sum"))
        var off = PassOptions()
        off.disabledFusions = [.attentionGradSums]
        XCTAssertFalse(try run(chain, PassContext(options: off)).contains("additive_scores_grad_sum"))
    }
}
