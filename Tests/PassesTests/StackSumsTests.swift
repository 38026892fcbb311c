import GraphIR
@testable import Passes
import XCTest

final class StackSumsTests: XCTestCase {
    /// Two steps' weight gradients, bias gradients and embedding gradients, each summed by
    /// an add: each sum becomes one op over stacked operands, the per-step gradients are
    /// stacked once for the weight and the bias.
    func testPerStepGradientSumsBecomeOneOpOverStackedOperands() throws {
        let out = try runPasses("""
        graph @g {
          %d0 = input() {name="d0"} : f32[B,8]
          %d1 = input() {name="d1"} : f32[B,8]
          %h0 = input() {name="h0"} : f32[B,3]
          %h1 = input() {name="h1"} : f32[B,3]
          %i0 = input() {name="i0"} : i64[B]
          %i1 = input() {name="i1"} : i64[B]
          %bias = param() {name="bias"} : f32[8]
          %table = param() {name="table"} : f32[5,8]
          %w0 = matmul(%d0, %h0) {transpose_a=true} : f32[8,3]
          %w1 = matmul(%d1, %h1) {transpose_a=true} : f32[8,3]
          %w = add(%w0, %w1) : f32[8,3]
          %b0 = reduce_like(%d0, %bias) : f32[8]
          %b1 = reduce_like(%d1, %bias) : f32[8]
          %b = add(%b0, %b1) : f32[8]
          %e0 = embedding_grad(%d0, %i0, %table) : f32[5,8]
          %e1 = embedding_grad(%d1, %i1, %table) : f32[5,8]
          %e = add(%e1, %e0) : f32[5,8]
          output "w" = %w
          output "b" = %b
          output "e" = %e
        }
        """, ["stack-sums", "dce", "verify"])
        assertFileCheck(out, """
        // CHECK: %[[D0:[0-9]+]] = input() {name="d0"}
        // CHECK: %[[D1:[0-9]+]] = input() {name="d1"}
        // CHECK: %[[H0:[0-9]+]] = input() {name="h0"}
        // CHECK: %[[H1:[0-9]+]] = input() {name="h1"}
        // CHECK: %[[I0:[0-9]+]] = input() {name="i0"}
        // CHECK: %[[I1:[0-9]+]] = input() {name="i1"}
        // CHECK: %[[BIAS:[0-9]+]] = param() {name="bias"}
        // CHECK: %[[TABLE:[0-9]+]] = param() {name="table"}
        // CHECK-NOT: matmul
        // CHECK: %[[D:[0-9]+]] = stack(%[[D0]], %[[D1]]) {axis=0} : f32[2,B,8]
        // CHECK-NEXT: %[[H:[0-9]+]] = stack(%[[H0]], %[[H1]]) {axis=0} : f32[2,B,3]
        // CHECK-NEXT: %[[W:[0-9]+]] = contract_rows(%[[D]], %[[H]]) : f32[8,3]
        // CHECK-NEXT: %[[B:[0-9]+]] = reduce_like(%[[D]], %[[BIAS]]) : f32[8]
        // CHECK-NEXT: %[[I:[0-9]+]] = stack(%[[I0]], %[[I1]]) {axis=0} : i64[2,B]
        // CHECK-NEXT: %[[E:[0-9]+]] = embedding_grad(%[[D]], %[[I]], %[[TABLE]]) : f32[5,8]
        // CHECK-NOT: add
        // CHECK: output "w" = %[[W]]
        // CHECK-NEXT: output "b" = %[[B]]
        // CHECK-NEXT: output "e" = %[[E]]
        """)
    }

    /// A longer chain mixing kinds: terms of one kind are stacked, the others still added;
    /// a product with another reader, or transposed the other way, stays as it is.
    func testMixedChainKeepsOtherTerms() throws {
        let out = try runPasses("""
        graph @g {
          %d0 = input() {name="d0"} : f32[2,8]
          %d1 = input() {name="d1"} : f32[2,8]
          %d2 = input() {name="d2"} : f32[2,8]
          %h = input() {name="h"} : f32[2,3]
          %x = input() {name="x"} : f32[8,3]
          %w0 = matmul(%d0, %h) {transpose_a=true} : f32[8,3]
          %w1 = matmul(%d1, %h) {transpose_a=true} : f32[8,3]
          %w2 = matmul(%d2, %h) {transpose_a=true} : f32[8,3]
          %s1 = add(%w0, %x) : f32[8,3]
          %s2 = add(%s1, %w1) : f32[8,3]
          %s3 = add(%s2, %w2) : f32[8,3]
          output "s" = %s3
          output "w2" = %w2
        }
        """, ["stack-sums", "dce", "verify"])
        assertFileCheck(out, """
        // CHECK: %[[D0:[0-9]+]] = input() {name="d0"}
        // CHECK: %[[D1:[0-9]+]] = input() {name="d1"}
        // CHECK: %[[D2:[0-9]+]] = input() {name="d2"}
        // CHECK: %[[H:[0-9]+]] = input() {name="h"}
        // CHECK: %[[X:[0-9]+]] = input() {name="x"}
        // CHECK-NEXT: %[[W2:[0-9]+]] = matmul(%[[D2]], %[[H]]) {transpose_a=true}
        // CHECK-NEXT: %[[D:[0-9]+]] = stack(%[[D0]], %[[D1]]) {axis=0} : f32[2,2,8]
        // CHECK-NEXT: %[[HH:[0-9]+]] = stack(%[[H]], %[[H]]) {axis=0} : f32[2,2,3]
        // CHECK-NEXT: %[[W01:[0-9]+]] = contract_rows(%[[D]], %[[HH]]) : f32[8,3]
        // CHECK-NEXT: %[[S1:[0-9]+]] = add(%[[W01]], %[[X]]) : f32[8,3]
        // CHECK-NEXT: %[[S2:[0-9]+]] = add(%[[S1]], %[[W2]]) : f32[8,3]
        // CHECK: output "s" = %[[S2]]
        // CHECK-NEXT: output "w2" = %[[W2]]
        """)
    }

    /// Per-step products whose operands outweigh the result (a small weight against large
    /// activations) stay per step; per-step dy = d_t W of an embedding gradient becomes one
    /// product of the stacked d_t.
    func testSizeRuleAndStackedProductOperands() throws {
        let out = try runPasses("""
        graph @g {
          %a0 = input() {name="a0"} : f32[B,64,1]
          %a1 = input() {name="a1"} : f32[B,64,1]
          %x = input() {name="x"} : f32[B,64,4]
          %d0 = input() {name="d0"} : f32[B,8]
          %d1 = input() {name="d1"} : f32[B,8]
          %i0 = input() {name="i0"} : i64[B]
          %i1 = input() {name="i1"} : i64[B]
          %w = param() {name="w"} : f32[8,3]
          %table = param() {name="table"} : f32[5,3]
          %p0 = contract_rows(%a0, %x) : f32[1,4]
          %p1 = contract_rows(%a1, %x) : f32[1,4]
          %p = add(%p0, %p1) : f32[1,4]
          %y0 = matmul(%d0, %w) : f32[B,3]
          %e0 = embedding_grad(%y0, %i0, %table) : f32[5,3]
          %y1 = matmul(%d1, %w) : f32[B,3]
          %e1 = embedding_grad(%y1, %i1, %table) : f32[5,3]
          %e = add(%e0, %e1) : f32[5,3]
          output "p" = %p
          output "e" = %e
        }
        """, ["stack-sums", "dce", "verify"])
        assertFileCheck(out, """
        // CHECK: %[[A0:[0-9]+]] = input() {name="a0"}
        // CHECK: %[[A1:[0-9]+]] = input() {name="a1"}
        // CHECK: %[[X:[0-9]+]] = input() {name="x"}
        // CHECK: %[[D0:[0-9]+]] = input() {name="d0"}
        // CHECK: %[[D1:[0-9]+]] = input() {name="d1"}
        // CHECK: %[[I0:[0-9]+]] = input() {name="i0"}
        // CHECK: %[[I1:[0-9]+]] = input() {name="i1"}
        // CHECK: %[[W:[0-9]+]] = param() {name="w"}
        // CHECK: %[[TABLE:[0-9]+]] = param() {name="table"}
        // CHECK-NEXT: %[[P0:[0-9]+]] = contract_rows(%[[A0]], %[[X]]) : f32[1,4]
        // CHECK-NEXT: %[[P1:[0-9]+]] = contract_rows(%[[A1]], %[[X]]) : f32[1,4]
        // CHECK-NEXT: %[[P:[0-9]+]] = add(%[[P0]], %[[P1]]) : f32[1,4]
        // CHECK-NEXT: %[[D:[0-9]+]] = stack(%[[D0]], %[[D1]]) {axis=0} : f32[2,B,8]
        // CHECK-NEXT: %[[Y:[0-9]+]] = matmul(%[[D]], %[[W]]) : f32[2,B,3]
        // CHECK-NEXT: %[[I:[0-9]+]] = stack(%[[I0]], %[[I1]]) {axis=0} : i64[2,B]
        // CHECK-NEXT: %[[E:[0-9]+]] = embedding_grad(%[[Y]], %[[I]], %[[TABLE]]) : f32[5,3]
        // CHECK-NOT: matmul
        // CHECK: output "p" = %[[P]]
        // CHECK-NEXT: output "e" = %[[E]]
        """)
    }

    func testGraphWithoutSumsIsUnchanged() throws {
        let g = try parseIR("""
        graph @g {
          %a = input() {name="a"} : f32[4,3]
          %b = input() {name="b"} : f32[4,3]
          %c = add(%a, %b) : f32[4,3]
          output "c" = %c
        }
        """)
        XCTAssertTrue(try Pass.stackSums.run(g) === g)
    }

    func testContractRowsShapeRule() throws {
        let q = { (a: TensorType, b: TensorType) in try inferType(.contractRows, [a, b], [:]) }
        XCTAssertEqual(try q(.f32(Shape([.symbol("B"), .known(2), .known(5)])), .f32(Shape([.symbol("B"), .known(2), .known(3)]))), .f32([5, 3]))
        XCTAssertThrowsError(try q(.f32([4, 5]), .f32([3, 3])))
        XCTAssertThrowsError(try q(.f32([5]), .f32([5])))
    }
}
