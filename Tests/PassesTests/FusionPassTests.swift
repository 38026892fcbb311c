import GraphIR
import Passes
import XCTest

/// IR in, IR out: what the fusion pass merges and what it must leave alone.
final class FusionPassTests: XCTestCase {
    func fuse(_ ir: String) throws -> String {
        IRPrinter.print(try Pipeline(["fusion", "dce", "verify"]).run(try parseIR(ir), .checked))
    }

    func testLinearWithReluAndItsGradientTest() throws {
        let out = try fuse("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %w = param() {name="w", init="zeros"} : f32[3,4]
          %b = param() {name="b", init="zeros"} : f32[3]
          %dy = input() {name="dy"} : f32[B,3]
          %m = matmul(%x, %w) {transpose_b=true} : f32[B,3]
          %a = add(%m, %b) : f32[B,3]
          %r = relu(%a) : f32[B,3]
          %g = relu_grad(%dy, %a) : f32[B,3]
          output "r" = %r
          output "g" = %g
        }
        """)
        assertFileCheck(out, """
        // CHECK: %[[X:[0-9]+]] = input() {name="x"}
        // CHECK: %[[W:[0-9]+]] = param() {name="w"
        // CHECK: %[[B:[0-9]+]] = param() {name="b"
        // CHECK: %[[DY:[0-9]+]] = input() {name="dy"}
        // CHECK: %[[MM:[0-9]+]] = fused_matmul(%[[X]], %[[W]], %[[B]]) {transpose_b=true, activation="relu"} : f32[B,3]
        // CHECK-NOT: relu(
        // CHECK: %[[G:[0-9]+]] = relu_grad(%[[DY]], %[[MM]])
        // CHECK: output "r" = %[[MM]]
        // CHECK-NEXT: output "g" = %[[G]]
        """)
    }

    func testBiasOnlyWhenThePreActivationValueIsAnOutput() throws {
        let out = try fuse("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %w = param() {name="w", init="zeros"} : f32[3,4]
          %b = param() {name="b", init="zeros"} : f32[3]
          %m = matmul(%x, %w) {transpose_b=true} : f32[B,3]
          %a = add(%b, %m) : f32[B,3]
          %r = relu(%a) : f32[B,3]
          output "a" = %a
          output "r" = %r
        }
        """)
        assertFileCheck(out, """
        // CHECK: %[[X:[0-9]+]] = input() {name="x"}
        // CHECK-NEXT: %[[W:[0-9]+]] = param() {name="w"
        // CHECK-NEXT: %[[B:[0-9]+]] = param() {name="b"
        // CHECK-NEXT: %[[A:[0-9]+]] = fused_matmul(%[[X]], %[[W]], %[[B]]) {transpose_b=true, activation="none"}
        // CHECK-NEXT: %[[R:[0-9]+]] = relu(%[[A]])
        // CHECK-NEXT: output "a" = %[[A]]
        // CHECK-NEXT: output "r" = %[[R]]
        """)
    }

    func testElementwiseChainBecomesOneProgram() throws {
        let out = try fuse("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %y = input() {name="y"} : f32[B,4]
          %s = sigmoid(%x) : f32[B,4]
          %t = tanh(%y) : f32[B,4]
          %p = mul(%s, %t) : f32[B,4]
          %q = scale(%p) {factor=2.0} : f32[B,4]
          output "q" = %q
        }
        """)
        assertFileCheck(out, """
        // CHECK: %2 = fused_elementwise(%0, %1) {program=[1,0,0,2,1,0,12,2,3,6,4,1073741824]
        // CHECK-SAME: expr="r2 = sigmoid(r0); r3 = tanh(r1); r4 = mul(r2, r3); r5 = scale(r4, 2.0)"} : f32[B,4]
        // CHECK-NOT: sigmoid(
        """)
    }

    /// A value used twice, or broadcast against a bias, ends a chain.
    func testSharedAndBroadcastValuesStayOutside() throws {
        let out = try fuse("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %b = input() {name="b"} : f32[4]
          %e = exp(%x) : f32[B,4]
          %f = add(%e, %b) : f32[B,4]
          %n = neg(%f) : f32[B,4]
          %m = mul(%n, %e) : f32[B,4]
          output "m" = %m
        }
        """)
        assertFileCheck(out, """
        // CHECK: %2 = exp(%0)
        // CHECK-NEXT: %3 = add(%2, %1)
        // CHECK-NEXT: %4 = fused_elementwise(%3, %2) {program=[5,0,0,12,2,1]
        """)
    }

    /// An LSTM cell's gate math (gates cut out of one product) becomes one lstm_cell kernel;
    /// h and c' are slices of its rows, and a later reader of a gate activation and of
    /// tanh c' (as the backward pass reads them) reads windows of the rows, not copies.
    func testLSTMCellBecomesOneKernel() throws {
        let out = try fuse("""
        graph @g {
          %z = input() {name="z"} : f32[B,8]
          %c = input() {name="c"} : f32[B,2]
          %zi = slice(%z) {axis=1, start=0, end=2} : f32[B,2]
          %i = sigmoid(%zi) : f32[B,2]
          %zf = slice(%z) {axis=1, start=2, end=4} : f32[B,2]
          %f = sigmoid(%zf) : f32[B,2]
          %zg = slice(%z) {axis=1, start=4, end=6} : f32[B,2]
          %g = tanh(%zg) : f32[B,2]
          %zo = slice(%z) {axis=1, start=6, end=8} : f32[B,2]
          %o = sigmoid(%zo) : f32[B,2]
          %fc = mul(%c, %f) : f32[B,2]
          %ig = mul(%g, %i) : f32[B,2]
          %c2 = add(%ig, %fc) : f32[B,2]
          %tc = tanh(%c2) : f32[B,2]
          %h = mul(%tc, %o) : f32[B,2]
          %d = mul(%i, %tc) : f32[B,2]
          output "h" = %h
          output "c" = %c2
          output "d" = %d
        }
        """)
        assertFileCheck(out, """
        // CHECK: %2 = lstm_cell(%0, %1) : f32[B,14]
        // CHECK-NEXT: %3 = slice(%2) {axis=1, start=0, end=2} : f32[B,2]
        // CHECK-NEXT: %4 = slice(%2) {axis=1, start=2, end=4} : f32[B,2]
        // CHECK-NEXT: %5 = fused_elementwise(%2, %2) {program=[12,0,1], expr="r2 = mul(r0, r1)", offsets=[4,12], width=2} : f32[B,2]
        // CHECK-NOT: sigmoid(
        // CHECK: output "h" = %3
        """)
    }

    /// lstm-cells before autodiff: the gradient of each cell is lstm_cell_grad (the gates)
    /// and lstm_cell_state_grad (the previous cell state), no sigmoid or tanh gradient chain.
    func testCellsBeforeAutodiffAreDifferentiatedByTheBackwardOps() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[B,3]
          %w = param() {name="w", init="zeros"} : f32[8,3]
          %v = param() {name="v", init="zeros"} : f32[2,3]
          %z = matmul(%x, %w) {transpose_b=true} : f32[B,8]
          %c = matmul(%x, %v) {transpose_b=true} : f32[B,2]
          %zi = slice(%z) {axis=1, start=0, end=2} : f32[B,2]
          %i = sigmoid(%zi) : f32[B,2]
          %zf = slice(%z) {axis=1, start=2, end=4} : f32[B,2]
          %f = sigmoid(%zf) : f32[B,2]
          %zg = slice(%z) {axis=1, start=4, end=6} : f32[B,2]
          %g = tanh(%zg) : f32[B,2]
          %zo = slice(%z) {axis=1, start=6, end=8} : f32[B,2]
          %o = sigmoid(%zo) : f32[B,2]
          %fc = mul(%f, %c) : f32[B,2]
          %ig = mul(%i, %g) : f32[B,2]
          %c2 = add(%fc, %ig) : f32[B,2]
          %tc = tanh(%c2) : f32[B,2]
          %h = mul(%o, %tc) : f32[B,2]
          %hc = mul(%h, %c2) : f32[B,2]
          %s = sum(%hc) {axes=[0,1]} : f32[]
          loss = %s
        }
        """)
        let out = IRPrinter.print(try Pipeline(["lstm-cells", "dce", "autodiff", "dce", "verify"]).run(g, .checked))
        assertFileCheck(out, """
        // CHECK: %[[CELL:[0-9]+]] = lstm_cell(%{{[0-9]+}}, %{{[0-9]+}}) : f32[B,14]
        // CHECK-NOT: sigmoid(
        // CHECK: lstm_cell_grad(%[[CELL]], %[[DY:[0-9]+]], %{{[0-9]+}}) : f32[B,8]
        // CHECK: lstm_cell_state_grad(%[[CELL]], %[[DY]]) : f32[B,2]
        // CHECK-NOT: sigmoid
        """)
        XCTAssertFalse(out.contains("tanh("), out)
        // Then fusion: their dY is h's and c''s gradients placed in zeros and added, so they
        // take those two instead.
        let fused = IRPrinter.print(try Pipeline(["lstm-cells", "dce", "autodiff", "dce", "fusion", "dce", "verify"]).run(g, .checked))
        assertFileCheck(fused, """
        // CHECK: %[[CELL:[0-9]+]] = lstm_cell(
        // CHECK: lstm_cell_grad(%[[CELL]], %[[DH:[0-9]+]], %[[DC:[0-9]+]], %{{[0-9]+}}) : f32[B,8]
        // CHECK: lstm_cell_state_grad(%[[CELL]], %[[DH]], %[[DC]]) : f32[B,2]
        """)
        XCTAssertFalse(fused.contains("slice_grad"), fused)
    }

    /// Not a cell: the forget gate's window is the input gate's, or a gate activation is
    /// read before the cell's last op (where the kernel would run).
    func testLSTMCellNeedsTheFourGatesAndLateReaders() throws {
        for (fStart, early) in [(0, false), (2, true)] {
            let out = try fuse("""
            graph @g {
              %z = input() {name="z"} : f32[B,8]
              %c = input() {name="c"} : f32[B,2]
              %zi = slice(%z) {axis=1, start=0, end=2} : f32[B,2]
              %i = sigmoid(%zi) : f32[B,2]
              %zf = slice(%z) {axis=1, start=\(fStart), end=\(fStart + 2)} : f32[B,2]
              %f = sigmoid(%zf) : f32[B,2]
              %e = \(early ? "exp(%f)" : "exp(%c)") : f32[B,2]
              %zg = slice(%z) {axis=1, start=4, end=6} : f32[B,2]
              %g = tanh(%zg) : f32[B,2]
              %zo = slice(%z) {axis=1, start=6, end=8} : f32[B,2]
              %o = sigmoid(%zo) : f32[B,2]
              %fc = mul(%f, %c) : f32[B,2]
              %ig = mul(%i, %g) : f32[B,2]
              %c2 = add(%fc, %ig) : f32[B,2]
              %tc = tanh(%c2) : f32[B,2]
              %h = mul(%o, %tc) : f32[B,2]
              output "h" = %h
              output "e" = %e
            }
            """)
            XCTAssertFalse(out.contains("lstm_cell"), out)
        }
    }

    func testContractionOnlyForTheBroadcastAxis() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[B,4,3]
          %a = input() {name="a"} : f32[B,4,1]
          %p = mul(%a, %x) : f32[B,4,3]
          %c = sum(%p) {axes=[1], keepdims=false} : f32[B,3]
          %q = mul(%x, %a) : f32[B,4,3]
          %d = sum(%q) {axes=[2], keepdims=false} : f32[B,4]
          output "c" = %c
          output "d" = %d
        }
        """)
        assertFileCheck(IRPrinter.print(try Pipeline(["contract", "dce", "verify"]).run(g, .checked)), """
        // CHECK: %[[X:[0-9]+]] = input() {name="x"}
        // CHECK-NEXT: %[[A:[0-9]+]] = input() {name="a"}
        // CHECK-NEXT: %[[P:[0-9]+]] = matmul(%[[A]], %[[X]]) {transpose_a=true} : f32[B,1,3]
        // CHECK-NEXT: %[[C:[0-9]+]] = reshape(%[[P]]) {shape=shape[B,3]} : f32[B,3]
        // CHECK-NEXT: %[[Q:[0-9]+]] = mul(%[[X]], %[[A]])
        // CHECK-NEXT: %[[D:[0-9]+]] = sum(%[[Q]]) {axes=[2], keepdims=false}
        // CHECK-NEXT: output "c" = %[[C]]
        // CHECK-NEXT: output "d" = %[[D]]
        """)
    }

    func testLossGradientPair() throws {
        let out = try fuse("""
        graph @g {
          %z = input() {name="z"} : f32[B,5]
          %t = input() {name="t"} : i64[B]
          %dy = input() {name="dy"} : f32[]
          %lp = log_softmax(%z) {axis=1} : f32[B,5]
          %d = nll_loss_grad(%dy, %lp, %t) {ignore_index=0} : f32[B,5]
          %g = log_softmax_grad(%d, %lp) {axis=1} : f32[B,5]
          output "g" = %g
        }
        """)
        assertFileCheck(out, """
        // CHECK: %[[Z:[0-9]+]] = input() {name="z"}
        // CHECK: %[[T:[0-9]+]] = input() {name="t"}
        // CHECK: %[[DY:[0-9]+]] = input() {name="dy"}
        // CHECK: %[[LP:[0-9]+]] = log_softmax(%[[Z]]) {axis=1}
        // CHECK-NOT: nll_loss_grad
        // CHECK: %[[G:[0-9]+]] = log_softmax_nll_grad(%[[DY]], %[[LP]], %[[T]]) {ignore_index=0} : f32[B,5]
        // CHECK-NOT: nll_loss_grad
        // CHECK: output "g" = %[[G]]
        """)
    }
}
