import GraphIR
import Passes
import XCTest

final class AttentionContextTests: XCTestCase {
    /// softmax(scores) · features as contract leaves it: one attention_context op, the
    /// softmax, the reshapes and the product gone.
    func testSoftmaxAndProductBecomeOneOp() throws {
        for axis in [1, -1] {
            let out = try runPasses("""
            graph @g {
              %s = input() {name="s"} : f32[B,6]
              %f = input() {name="f"} : f32[B,6,4]
              %a = softmax(%s) {axis=\(axis)} : f32[B,6]
              %w = reshape(%a) {shape=shape[B,6,1]} : f32[B,6,1]
              %m = matmul(%w, %f) {transpose_a=true} : f32[B,1,4]
              %c = reshape(%m) {shape=shape[B,4]} : f32[B,4]
              output "context" = %c
            }
            """, ["attention-context", "dce", "verify"])
            assertFileCheck(out, """
            // CHECK: %[[S:[0-9]+]] = input() {name="s"}
            // CHECK: %[[F:[0-9]+]] = input() {name="f"}
            // CHECK-NOT: softmax
            // CHECK-NOT: matmul
            // CHECK: %[[C:[0-9]+]] = attention_context(%[[S]], %[[F]]) : f32[B,4]
            // CHECK-NOT: reshape
            // CHECK: output "context" = %[[C]]
            """)
        }
    }

    /// The sum contract would make the product of: the op too, the product left out.
    func testSumOfTheWeightedFeaturesBecomesTheOp() throws {
        let out = try runPasses("""
        graph @g {
          %s = input() {name="s"} : f32[B,6]
          %f = input() {name="f"} : f32[B,6,4]
          %a = softmax(%s) {axis=1} : f32[B,6]
          %w = reshape(%a) {shape=shape[B,6,1]} : f32[B,6,1]
          %p = mul(%f, %w) : f32[B,6,4]
          %c = sum(%p) {axes=[1], keepdims=false} : f32[B,4]
          output "context" = %c
        }
        """, ["attention-context", "verify"])
        assertFileCheck(out, """
        // CHECK-NOT: mul(
        // CHECK: %[[C:[0-9]+]] = attention_context(%0, %1) : f32[B,4]
        // CHECK-NOT: sum(
        // CHECK: output "context" = %[[C]]
        """)
    }

    /// The product read elsewhere: it is then a reshape of the new op.
    func testProductWithOtherUsersIsAReshapeOfTheOp() throws {
        let out = try runPasses("""
        graph @g {
          %s = input() {name="s"} : f32[B,6]
          %f = input() {name="f"} : f32[B,6,4]
          %a = softmax(%s) {axis=1} : f32[B,6]
          %w = reshape(%a) {shape=shape[B,6,1]} : f32[B,6,1]
          %m = matmul(%w, %f) {transpose_a=true} : f32[B,1,4]
          output "m" = %m
        }
        """, ["attention-context", "dce", "verify"])
        assertFileCheck(out, """
        // CHECK: %[[C:[0-9]+]] = attention_context(%0, %1) : f32[B,4]
        // CHECK-NEXT: %[[M:[0-9]+]] = reshape(%[[C]]) {shape=shape[B,1,4]} : f32[B,1,4]
        // CHECK-NEXT: output "m" = %[[M]]
        """)
    }

    /// Left alone: alpha read elsewhere (a decoding graph outputs it), a softmax over the
    /// batch axis, and a product with the features transposed (square features, N = D, so
    /// that its shape is the context's: Σ_n alpha[n] f[d, n] is not the context).
    func testOnlyASingleUseSoftmaxOverTheRegions() throws {
        let cases = [("axis=1", "transpose_a=true", "output \"alpha\" = %a"),
                     ("axis=0", "transpose_a=true", ""),
                     ("axis=1", "transpose_a=true, transpose_b=true", "")]
        func graph(_ axis: String, _ transpose: String, _ extra: String) throws -> Graph {
            try parseIR("""
            graph @g {
              %s = input() {name="s"} : f32[B,6]
              %f = input() {name="f"} : f32[B,6,6]
              %a = softmax(%s) {\(axis)} : f32[B,6]
              %w = reshape(%a) {shape=shape[B,6,1]} : f32[B,6,1]
              %m = matmul(%w, %f) {\(transpose)} : f32[B,1,6]
              output "m" = %m
              \(extra)
            }
            """)
        }
        for (axis, transpose, extra) in cases {
            let g = try graph(axis, transpose, extra)
            XCTAssertTrue(try Pass.attentionContext.run(g) === g, "\(axis) \(transpose) \(extra)")
        }
        let plain = try graph("axis=1", "transpose_a=true", "")
        XCTAssertFalse(try Pass.attentionContext.run(plain) === plain, "the context itself, with square features")
    }

    /// The fusion tuner's switch: with the kind disabled the pass changes nothing.
    func testDisabledKindLeavesTheGraph() throws {
        let g = try parseIR("""
        graph @g {
          %s = input() {name="s"} : f32[B,6]
          %f = input() {name="f"} : f32[B,6,4]
          %a = softmax(%s) {axis=1} : f32[B,6]
          %w = reshape(%a) {shape=shape[B,6,1]} : f32[B,6,1]
          %m = matmul(%w, %f) {transpose_a=true} : f32[B,1,4]
          output "m" = %m
        }
        """)
        var options = PassOptions()
        options.disabledFusions = [.attentionContext]
        XCTAssertTrue(try Pass.attentionContext.run(g, PassContext(options: options)) === g)
        XCTAssertFalse(try Pass.attentionContext.run(g) === g)
    }
}
