import GraphIR
import Passes
import XCTest

final class ConstantFoldingTests: XCTestCase {
    func testFoldsScalarChainIntoOneConstant() throws {
        let out = try runPasses("""
        graph @g {
          %a = constant() {value=2.0}
          %b = constant() {value=3.0}
          %c = add(%a, %b)                      // 5
          %d = mul(%c, %a)                      // 10
          %e = neg(%d)                          // -10
          %f = scale(%e) {factor=0.5}           // -5
          %g = clamp(%f) {min=-4.0, max=4.0}    // -4
          %h = sub(%g, %b)                      // -7
          %i = div(%h, %a) loc("m.swiftgraph":9:2)  // -3.5
          output "i" = %i
        }
        """, ["constant-folding", "dce"])
        assertFileCheck(out, """
        CHECK-LABEL: graph @g
        CHECK-NEXT: %[[C:[0-9]+]] = constant() {value=-3.5} : f32[] loc("m.swiftgraph":9:2)
        CHECK-NEXT: output "i" = %[[C]]
        CHECK-NOT: add
        """)
    }

    func testFoldsInSinglePrecisionLikeTheKernels() throws {
        let g = try Pipeline(["constant-folding"]).run(try parseIR("""
        graph @g {
          %a = constant() {value=0.1}
          %b = constant() {value=0.2}
          %c = add(%a, %b)
          %one = constant() {value=1.0}
          %e = exp(%one)
          %l = log(%one)
          output "c" = %c
          output "e" = %e
          output "l" = %l
        }
        """), .checked)
        func value(_ name: String) -> Double? {
            guard let v = g.output(named: name), g[v].op == .constant else { return nil }
            return g[v].attributes.float("value")
        }
        // In f64 this would be 0.30000000000000004.
        XCTAssertEqual(value("c"), Double(Float(0.1) + Float(0.2)))
        XCTAssertEqual(value("c"), 0.30000001192092896)
        XCTAssertEqual(value("e"), Double(Float(2.718281828459045)))
        XCTAssertEqual(value("l"), 0)
    }

    func testArithmeticIdentities() throws {
        let out = try runPasses("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %one = constant() {value=1.0}
          %zero = constant() {value=0.0}
          %m1 = mul(%x, %one)
          %m2 = mul(%one, %m1)
          %a1 = add(%m2, %zero)
          %a2 = add(%zero, %a1)
          %s1 = sub(%a2, %zero)
          %d1 = div(%s1, %one)
          %sc = scale(%d1) {factor=1.0}
          %n1 = neg(%sc)
          %n2 = neg(%n1)
          output "y" = %n2
        }
        """, ["constant-folding", "dce"])
        assertFileCheck(out, """
        CHECK-LABEL: graph @g
        CHECK-NEXT: %[[X:[0-9]+]] = input() {name="x"} : f32[B,4]
        CHECK-NEXT: output "y" = %[[X]]
        """)
    }

    func testMovementIdentities() throws {
        let out = try runPasses("""
        graph @g {
          %x = input() {name="x"} : f32[B,2,3]
          %r0 = reshape(%x) {shape=shape[B,2,3]}
          %r1 = reshape(%r0) {shape=shape[B,6]}
          %r2 = reshape(%r1) {shape=shape[B,3,-1]}
          %r3 = reshape(%r1) {shape=shape[B,2,3]}
          %t0 = transpose(%x) {perm=[0,1,2]}
          %t1 = transpose(%t0) {perm=[0,2,1]}
          %t2 = transpose(%t1) {perm=[0,2,1]}
          %t3 = transpose(%x) {perm=[1,0,2]}
          %t4 = transpose(%t3) {perm=[0,2,1]} scope("blk")
          %bl = broadcast_like(%x, %x)
          %su = sum(%x) {axes=[]}
          %sl = slice(%x) {axis=2, start=0, end=3}
          %cc = concat(%x) {axis=1}
          output "r" = %r2
          output "r3" = %r3
          output "t" = %t2
          output "u" = %t4
          output "b" = %bl
          output "s" = %su
          output "sl" = %sl
          output "cc" = %cc
        }
        """, ["constant-folding", "dce"])
        assertFileCheck(out, """
        CHECK-LABEL: graph @g
        CHECK-NEXT: %[[X:[0-9]+]] = input() {name="x"} : f32[B,2,3]
        CHECK-NEXT: %[[R:[0-9]+]] = reshape(%[[X]]) {shape=shape[B,3,-1]} : f32[B,3,2]
        CHECK-NEXT: %[[T:[0-9]+]] = transpose(%[[X]]) {perm=[1,2,0]} : f32[2,3,B] scope("blk")
        CHECK-NEXT: output "r" = %[[R]]
        CHECK-NEXT: output "r3" = %[[X]]
        CHECK-NEXT: output "t" = %[[X]]
        CHECK-NEXT: output "u" = %[[T]]
        CHECK-NEXT: output "b" = %[[X]]
        CHECK-NEXT: output "s" = %[[X]]
        CHECK-NEXT: output "sl" = %[[X]]
        CHECK-NEXT: output "cc" = %[[X]]
        """)
    }

    func testLeavesNonIdentitiesAlone() throws {
        let ir = """
        graph @g {
          %x = input() {name="x"} : f32[4]
          %two = constant() {value=2.0}
          %one = constant() {value=1.0}
          %zero = constant() {value=0.0}
          %a = mul(%x, %two)
          %b = add(%x, %one)
          %c = sub(%zero, %x)
          %d = div(%one, %x)
          %e = scale(%x) {factor=2.0}
          %f = add(%x, %x)
          %h = reshape(%x) {shape=shape[2,2]}
          %t = transpose(%h) {perm=[1,0]}
          %m = mean(%x) {axes=[0]}
          %n = neg(%x)
          %cl = clamp(%x) {min=-1.0, max=1.0}
          %sl = slice(%x) {axis=0, start=1, end=4}
          output "a" = %a
          output "b" = %b
          output "c" = %c
          output "d" = %d
          output "e" = %e
          output "f" = %f
          output "t" = %t
          output "m" = %m
          output "n" = %n
          output "cl" = %cl
          output "sl" = %sl
        }
        """
        let before = IRPrinter.print(try parseIR(ir))
        XCTAssertEqual(try runPasses(ir, ["constant-folding"]), before)
    }

    /// A random op stays; clamp of NaN folds to NaN, which is what its kernel computes (both
    /// evaluate the op's one scalar function).
    func testDoesNotFoldRandomAndFoldsNaNClampLikeTheKernel() throws {
        let ir = """
        graph @g {
          %n = constant() {value=nan}
          %c = clamp(%n) {min=0.0, max=1.0}
          %m = dropout_mask(%n) {p=0.5}
          output "c" = %c
          output "m" = %m
        }
        """
        let out = try runPasses(ir, ["constant-folding"])
        assertFileCheck(out, """
        CHECK: %0 = constant() {value=nan} : f32[]
        CHECK-NEXT: %1 = constant() {value=nan} : f32[]
        CHECK-NEXT: %2 = dropout_mask(%0) {p=0.5} : f32[]
        CHECK-NEXT: output "c" = %1
        """)
    }

    func testDefaultPipelineFoldsAndCleansUp() throws {
        let out = try runPasses("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %w = param() {name="w", init="zeros"} : f32[4,4]
          %h = constant() {value=0.5}
          %k = add(%h, %h)
          %y1 = matmul(%x, %w)
          %y2 = matmul(%x, %w)
          %z = mul(%y1, %k)
          %s = add(%z, %y2)
          output "s" = %s
        }
        """, Pipelines.cleanup.map(\.name))
        assertFileCheck(out, """
        CHECK-LABEL: graph @g
        CHECK-NEXT: %[[X:[0-9]+]] = input() {name="x"}
        CHECK-NEXT: %[[W:[0-9]+]] = param() {name="w"
        CHECK-NEXT: %[[Y:[0-9]+]] = matmul(%[[X]], %[[W]]) : f32[B,4]
        CHECK-NEXT: %[[S:[0-9]+]] = add(%[[Y]], %[[Y]]) : f32[B,4]
        CHECK-NEXT: output "s" = %[[S]]
        CHECK-NOT: constant
        """)
    }
}
