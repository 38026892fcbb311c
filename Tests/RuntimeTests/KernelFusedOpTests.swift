import Foundation
import GraphIR
@testable import Runtime
import XCTest

/// The fused ops' kernels against direct formulas.
final class KernelFusedOpTests: XCTestCase {
    let data = TestData(seed: 41)

    func testFusedMatmulAddsBiasAndAppliesRelu() throws {
        let a = data.floats([2, 3, 4]), w = data.floats([5, 4]), bias = data.floats([5])
        for activation in ["none", "relu"] {
            let y = try runOp(.fusedMatmul, [a, w, bias], ["transpose_b": .bool(true), "activation": .string(activation)])
            var expected: [Double] = []
            for r in 0..<6 { for o in 0..<5 {
                var s = Double(bias.floats[o])
                for k in 0..<4 { s += Double(a.floats[r * 4 + k]) * Double(w.floats[o * 4 + k]) }
                expected.append(activation == "relu" ? max(s, 0) : s)
            } }
            assertClose(y, expected, shape: [2, 3, 5], activation)
        }
        XCTAssertThrowsError(try runOp(.fusedMatmul, [a, w, bias], ["transpose_b": .bool(true), "activation": .string("gelu")]))
        XCTAssertThrowsError(try runOp(.fusedMatmul, [a, w, data.floats([4])], ["transpose_b": .bool(true)]), "bias per output column")
    }

    func testFusedConvolutionAppliesRelu() throws {
        let x = data.floats([2, 2, 5, 5]), w = data.floats([3, 2, 3, 3]), b = data.floats([3])
        let attrs: Attributes = ["stride": .ints([1, 1]), "padding": .ints([1, 1])]
        let plain = try runOp(.conv2d, [x, w, b], attrs)
        var fusedAttrs = attrs
        fusedAttrs["activation"] = .string("relu")
        let fused = try runOp(.fusedConv2d, [x, w, b], fusedAttrs)
        XCTAssertEqual(fused.floats, plain.floats.map { max($0, 0) })
        XCTAssertTrue(plain.floats.contains { $0 < 0 }, "the relu has something to do")
    }

    /// Every elementwise op, in one program over two full inputs and a broadcast scalar,
    /// longer than one block so blocks and the tail are both covered.
    func testElementwiseProgramRunsEveryOpcode() throws {
        let n = 600
        let x = data.floats([n], in: 0.1...2), y = data.floats([n]), s = HostTensor(shape: [1], floats: [0.5])
        func k(_ v: Float) -> Int { Int(v.bitPattern) }
        // r3 = x*y; r4 = r3+s; r5 = r4-x; r6 = r5/x; r7 = sigmoid r6; r8 = tanh r7; r9 = exp r8;
        // r10 = log x; r11 = neg r10; r12 = relu y; r13 = scale(r11, 1.5); r14 = clamp(r13, -0.3, 0.4);
        // r15 = relu_grad(r9, y); r16 = r14 + r15; r17 = r16 + r12
        let program: [Int] = [12, 0, 1, 10, 3, 2, 11, 4, 0, 13, 5, 0, 1, 6, 0, 2, 7, 0, 3, 8, 0,
                              4, 0, 0, 5, 10, 0, 0, 1, 0, 6, 11, k(1.5), 7, 13, k(-0.3), k(0.4),
                              14, 9, 1, 10, 14, 15, 10, 16, 12,
                              // r18 = leaky_relu(r17, 0.1); r19 = sqrt x; r20 = pow(y, 3); r21 = abs y; r22 = erf y;
                              // r23 = hard_sigmoid(y, 0.2, 0.5); r24..r28 = r18 + r19 + ... + r23
                              20, 17, k(0.1), 21, 0, 0, 22, 1, k(3), 23, 1, 0, 24, 1, 0, 25, 1, k(0.2), k(0.5),
                              10, 18, 19, 10, 24, 20, 10, 25, 21, 10, 26, 22, 10, 27, 23,
                              // r29 = maximum(r28, y); r30 = minimum(r29, x); r31 = power(x, r30)
                              26, 28, 1, 27, 29, 0, 32, 0, 30]
        XCTAssertEqual(Set(try ElementwiseProgram(inputs: 3, encoded: program).code.map(\.opcode)),
                       Set(OpRegistry.all.compactMap { $0.scalarFunction?.opcode }), "the program uses every elementwise op")
        let out = try runOp(.fusedElementwise, [x, y, s], ["program": .ints(program)])
        let expected = (0..<n).map { i -> Double in
            let a = Double(x.floats[i]), b = Double(y.floats[i])
            let r6 = (a * b + 0.5 - a) / a
            let r9 = Foundation.exp(Foundation.tanh(1 / (1 + Foundation.exp(-r6))))
            let r15 = min(max(-Foundation.log(a) * 1.5, -0.3), 0.4)
            let r17 = r15 + (b > 0 ? r9 : 0) + max(b, 0)
            let r18 = r17 > 0 ? r17 : 0.1 * r17
            let r28 = r18 + a.squareRoot() + b * b * b + Swift.abs(b) + Foundation.erf(b) + min(max(0.2 * b + 0.5, 0), 1)
            return Foundation.pow(a, min(max(r28, b), a))
        }
        assertClose(out, expected, shape: [n], "program")
    }

    /// LSTM-style: two windows of one [rows, 8] tensor plus a full [rows, 3] operand, rows
    /// long enough to cross a block boundary.
    func testElementwiseProgramReadsWindowsOfTheLastAxis() throws {
        let rows = 300
        let gates = data.floats([rows, 8]), c = data.floats([rows, 3])
        // r2 = sigmoid(window 1..<4); r3 = tanh(window 5..<8); r4 = r2 * r3; r5 = r4 + c
        let y = try runOp(.fusedElementwise, [gates, gates, c],
                          ["program": .ints([1, 0, 0, 2, 1, 0, 12, 3, 4, 10, 5, 2]), "offsets": .ints([1, 5, -1]), "width": .int(3)])
        let expected = (0..<(rows * 3)).map { i -> Double in
            let r = i / 3, j = i % 3
            let s = 1 / (1 + Foundation.exp(-Double(gates.floats[r * 8 + 1 + j])))
            return s * Foundation.tanh(Double(gates.floats[r * 8 + 5 + j])) + Double(c.floats[i])
        }
        assertClose(y, expected, shape: [rows, 3], "windows")
        XCTAssertThrowsError(try runOp(.fusedElementwise, [gates], ["program": .ints([0, 0, 0]), "offsets": .ints([6]), "width": .int(3)]),
                             "window 6..<9 does not fit 8 columns")
    }

    func testElementwiseProgramsAreChecked() {
        XCTAssertThrowsError(try runOp(.fusedElementwise, [data.floats([3])], ["program": .ints([10, 0, 1])]), "register 1 not defined")
        XCTAssertThrowsError(try runOp(.fusedElementwise, [data.floats([3])], ["program": .ints([99, 0, 0])]), "unknown opcode")
        XCTAssertThrowsError(try runOp(.fusedElementwise, [data.floats([3])], ["program": .ints([7, 0, 0])]), "clamp without its max")
        XCTAssertThrowsError(try runOp(.fusedElementwise, [data.floats([3])], ["program": .ints([0, 0, 5])]), "padding not 0")
        XCTAssertThrowsError(try runOp(.fusedElementwise, [data.floats([3])], ["program": .ints([0, 0, 0]), "expr": .string("r1 = neg(r0)")]),
                             "expr disagrees with the program")
        XCTAssertThrowsError(try runOp(.fusedElementwise, [data.floats([3]), data.floats([2])], ["program": .ints([10, 0, 1])]), "shapes")
    }

    /// The fused loss gradient equals the two-op form, ignored and out-of-range targets
    /// included.
    func testLogSoftmaxNllGradient() throws {
        let z = data.floats([4, 5])
        let logp = try runOp(.logSoftmax, [z], ["axis": .int(-1)])
        let t = HostTensor(shape: [4], ints: [2, -100, 4, 0])
        let dy = HostTensor(shape: [], floats: [0.7])
        let attrs: Attributes = ["ignore_index": .int(-100)]
        let fused = try runOp(.logSoftmaxNllGrad, [dy, logp, t], attrs)
        var expected: [Double] = []
        for r in 0..<4 { for c in 0..<5 {
            guard t.ints[r] != -100 else { expected.append(0); continue }
            expected.append((Foundation.exp(Double(logp.floats[r * 5 + c])) - (Int64(c) == t.ints[r] ? 1 : 0)) * 0.7 / 3)
        } }
        assertClose(fused, expected, shape: [4, 5], "log_softmax_nll_grad")
    }

    /// The rows' fastExp(logp) * scale (a C kernel per ISA) on every ISA: the bits of the Swift
    /// rule, at widths around the 16 lanes, with infinities and NaN among the log-probabilities.
    func testLogSoftmaxNllGradientGivesTheRowRuleOnEveryISA() throws {
        for classes in [1, 5, 15, 16, 17, 190] {
            var values = data.floats([3, classes], in: -30...0).floats
            values[0] = -.infinity
            if classes > 2 { values[classes + 1] = .nan; values[2 * classes - 1] = .infinity }
            let logp = HostTensor(shape: [3, classes], floats: values)
            let t = HostTensor(shape: [3], ints: [0, Int64(classes - 1), -100])
            let dy = HostTensor(shape: [], floats: [0.9])
            let scale = Float(0.9) / 2
            var expected = [Float](repeating: 0, count: 3 * classes)
            for r in 0..<2 {
                for j in 0..<classes { expected[r * classes + j] = fastExp(values[r * classes + j]) * scale }
                expected[r * classes + Int(t.ints[r])] -= scale
            }
            try onEveryISA { isa in
                let got = try runOp(.logSoftmaxNllGrad, [dy, logp, t], ["ignore_index": .int(-100)]).floats
                for (i, (a, b)) in zip(got, expected).enumerated() where !(a.isNaN && b.isNaN) && a.bitPattern != b.bitPattern {
                    XCTFail("\(isa), \(classes) classes: element \(i) is \(a), want \(b)")
                    break
                }
            }
        }
    }
}
