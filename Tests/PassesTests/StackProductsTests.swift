import GraphIR
import Passes
import XCTest

final class StackProductsTests: XCTestCase {
    /// Per-step scores fc(h_t) = h_t Wᵀ + b stacked on axis 1 (the decoders' vocabulary
    /// projection): one product of the stacked inputs, the bias added once.
    func testStackedProjectionsBecomeOneProduct() throws {
        let out = try runPasses("""
        graph @g {
          %h0 = input() {name="h0"} : f32[B,4]
          %h1 = input() {name="h1"} : f32[B,4]
          %w = param() {name="w"} : f32[3,4]
          %b = param() {name="b"} : f32[3]
          %y0 = matmul(%h0, %w) {transpose_b=true} : f32[B,3]
          %s0 = add(%y0, %b) : f32[B,3]
          %y1 = matmul(%h1, %w) {transpose_b=true} : f32[B,3]
          %s1 = add(%b, %y1) : f32[B,3]
          %all = stack(%s0, %s1) {axis=1} : f32[B,2,3]
          output "scores" = %all
        }
        """, ["stack-products", "dce", "verify"])
        assertFileCheck(out, """
        // CHECK: %[[H0:[0-9]+]] = input() {name="h0"}
        // CHECK: %[[H1:[0-9]+]] = input() {name="h1"}
        // CHECK: %[[W:[0-9]+]] = param() {name="w"}
        // CHECK: %[[B:[0-9]+]] = param() {name="b"}
        // CHECK-NOT: matmul
        // CHECK: %[[H:[0-9]+]] = stack(%[[H0]], %[[H1]]) {axis=1} : f32[B,2,4]
        // CHECK-NEXT: %[[Y:[0-9]+]] = matmul(%[[H]], %[[W]]) {transpose_b=true} : f32[B,2,3]
        // CHECK-NEXT: %[[S:[0-9]+]] = add(%[[Y]], %[[B]]) : f32[B,2,3]
        // CHECK-NEXT: output "scores" = %[[S]]
        """)
    }

    /// Left alone: different weights, a step's product read elsewhere, a stack along the
    /// contracted axis.
    func testOnlySameWeightSingleUseAndBatchAxes() throws {
        for (second, extra, axis) in [("%v", "", 0), ("%w", "output \"y1\" = %y1", 0), ("%w", "", 2)] {
            let g = try parseIR("""
            graph @g {
              %h0 = input() {name="h0"} : f32[B,4]
              %h1 = input() {name="h1"} : f32[B,4]
              %w = param() {name="w"} : f32[3,4]
              %v = param() {name="v"} : f32[3,4]
              %y0 = matmul(%h0, %w) {transpose_b=true} : f32[B,3]
              %y1 = matmul(%h1, \(second)) {transpose_b=true} : f32[B,3]
              %all = stack(%y0, %y1) {axis=\(axis)} : \(axis == 0 ? "f32[2,B,3]" : "f32[B,3,2]")
              output "all" = %all
              \(extra)
            }
            """)
            XCTAssertTrue(try Pass.stackProducts.run(g) === g, "\(second) \(extra) \(axis)")
        }
    }
}
