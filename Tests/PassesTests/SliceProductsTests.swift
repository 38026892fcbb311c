import GraphIR
import Passes
import XCTest

final class SliceProductsTests: XCTestCase {
    /// Two steps' products with one weight, each read through two column slices (the
    /// attention decoder's gate gradient times its input weight, split into the embedding's
    /// and the context's gradients): one product per slice, the weight sliced once per range,
    /// and with stack-products after it the first slices' stack one product.
    func testSlicedProductsBecomeProductsOfWeightSlices() throws {
        let out = try runPasses("""
        graph @g {
          %d0 = input() {name="d0"} : f32[B,8]
          %d1 = input() {name="d1"} : f32[B,8]
          %w = param() {name="w"} : f32[8,6]
          %m0 = matmul(%d0, %w) : f32[B,6]
          %e0 = slice(%m0) {axis=1, start=0, end=2} : f32[B,2]
          %c0 = slice(%m0) {axis=-1, start=2, end=6} : f32[B,4]
          %m1 = matmul(%d1, %w) : f32[B,6]
          %e1 = slice(%m1) {axis=1, start=0, end=2} : f32[B,2]
          %c1 = slice(%m1) {axis=1, start=2, end=6} : f32[B,4]
          %es = stack(%e0, %e1) {axis=0} : f32[2,B,2]
          output "es" = %es
          output "c0" = %c0
          output "c1" = %c1
        }
        """, ["slice-products", "stack-products", "dce", "verify"])
        assertFileCheck(out, """
        // CHECK: %[[D0:[0-9]+]] = input() {name="d0"}
        // CHECK: %[[D1:[0-9]+]] = input() {name="d1"}
        // CHECK: %[[W:[0-9]+]] = param() {name="w"}
        // CHECK: %[[WC:[0-9]+]] = slice(%[[W]]) {axis=1, start=2, end=6} : f32[8,4]
        // CHECK-NEXT: %[[C0:[0-9]+]] = matmul(%[[D0]], %[[WC]]) : f32[B,4]
        // CHECK-NOT: slice(%[[W]]) {axis=1, start=2, end=6}
        // CHECK: %[[C1:[0-9]+]] = matmul(%[[D1]], %[[WC]]) : f32[B,4]
        // CHECK: %[[DS:[0-9]+]] = stack(%[[D0]], %[[D1]]) {axis=0} : f32[2,B,8]
        // CHECK-NEXT: %[[ES:[0-9]+]] = matmul(%[[DS]], %[[WE:[0-9]+]]) : f32[2,B,2]
        // CHECK-NEXT: output "es" = %[[ES]]
        // CHECK-NEXT: output "c0" = %[[C0]]
        // CHECK-NEXT: output "c1" = %[[C1]]
        """)
        XCTAssertTrue(out.contains("slice(%2) {axis=1, start=0, end=2} : f32[8,2]"), out)
        XCTAssertFalse(out.contains(": f32[B,6]"), "no whole product is left: \(out)")
    }

    /// A weight used transposed is sliced by rows; an existing slice of the weight is reused.
    func testTransposedWeightSlicedByRowsAndExistingSliceReused() throws {
        let out = try runPasses("""
        graph @g {
          %d0 = input() {name="d0"} : f32[B,8]
          %d1 = input() {name="d1"} : f32[B,8]
          %w = param() {name="w"} : f32[6,8]
          %wc = slice(%w) {axis=0, start=2, end=6} : f32[4,8]
          %m0 = matmul(%d0, %w) {transpose_b=true} : f32[B,6]
          %c0 = slice(%m0) {axis=1, start=2, end=6} : f32[B,4]
          %m1 = matmul(%d1, %w) {transpose_b=true} : f32[B,6]
          %c1 = slice(%m1) {axis=1, start=2, end=6} : f32[B,4]
          output "c0" = %c0
          output "c1" = %c1
          output "wc" = %wc
        }
        """, ["slice-products", "dce", "verify"])
        assertFileCheck(out, """
        // CHECK: %[[W:[0-9]+]] = param() {name="w"}
        // CHECK-NEXT: %[[WC:[0-9]+]] = slice(%[[W]]) {axis=0, start=2, end=6} : f32[4,8]
        // CHECK-NEXT: %[[C0:[0-9]+]] = matmul(%0, %[[WC]]) {transpose_b=true} : f32[B,4]
        // CHECK-NEXT: %[[C1:[0-9]+]] = matmul(%1, %[[WC]]) {transpose_b=true} : f32[B,4]
        // CHECK-NEXT: output "c0" = %[[C0]]
        """)
    }

    /// Left alone: a lone product, a product also read whole, a slice of a leading axis, a
    /// transposed left operand.
    func testOnlySharedWeightsReadThroughLastAxisSlices() throws {
        let cases: [(String, String)] = [
            ("%m1 = matmul(%d1, %v) : f32[B,6]", ""),
            ("%m1 = matmul(%d1, %w) : f32[B,6]", "output \"m0\" = %m0"),
        ]
        for (second, extra) in cases {
            let g = try parseIR("""
            graph @g {
              %d0 = input() {name="d0"} : f32[B,8]
              %d1 = input() {name="d1"} : f32[B,8]
              %w = param() {name="w"} : f32[8,6]
              %v = param() {name="v"} : f32[8,6]
              %m0 = matmul(%d0, %w) : f32[B,6]
              %c0 = slice(%m0) {axis=1, start=2, end=6} : f32[B,4]
              \(second)
              %c1 = slice(%m1) {axis=1, start=2, end=6} : f32[B,4]
              output "c0" = %c0
              output "c1" = %c1
              \(extra)
            }
            """)
            XCTAssertTrue(try Pass.sliceProducts.run(g) === g, "\(second) \(extra)")
        }
        let rows = try parseIR("""
        graph @g {
          %d0 = input() {name="d0"} : f32[4,8]
          %d1 = input() {name="d1"} : f32[4,8]
          %w = param() {name="w"} : f32[8,6]
          %m0 = matmul(%d0, %w) : f32[4,6]
          %c0 = slice(%m0) {axis=0, start=0, end=2} : f32[2,6]
          %m1 = matmul(%d1, %w) : f32[4,6]
          %c1 = slice(%m1) {axis=0, start=0, end=2} : f32[2,6]
          output "c0" = %c0
          output "c1" = %c1
        }
        """)
        XCTAssertTrue(try Pass.sliceProducts.run(rows) === rows)
        let transposedA = try parseIR("""
        graph @g {
          %d0 = input() {name="d0"} : f32[8,4]
          %d1 = input() {name="d1"} : f32[8,4]
          %w = param() {name="w"} : f32[8,6]
          %m0 = matmul(%d0, %w) {transpose_a=true} : f32[4,6]
          %c0 = slice(%m0) {axis=1, start=0, end=2} : f32[4,2]
          %m1 = matmul(%d1, %w) {transpose_a=true} : f32[4,6]
          %c1 = slice(%m1) {axis=1, start=0, end=2} : f32[4,2]
          output "c0" = %c0
          output "c1" = %c1
        }
        """)
        XCTAssertTrue(try Pass.sliceProducts.run(transposedA) === transposedA)
    }
}
