import CConvKernels
import Foundation
import GraphIR
@testable import Runtime
import XCTest

/// The decoders' C kernels (CConvKernels/decoder_kernels.c) on every instruction set this CPU
/// has, against the Swift scalar rules they replace, bit for bit: `lstm_cell` against
/// GraphIR's fastSigmoid and fastTanh applied one element at a time, Adam against its
/// element rule written out. Lengths cover whole vectors, tails and single elements; values
/// cover NaN, infinities, both zeros, the exponential's clamps and tanh's series cut-off.
final class KernelDecoderISATests: XCTestCase {
    let data = TestData(seed: 67)

    /// Random values with some of every awkward kind mixed in.
    func awkward(_ n: Int, scale: Float) -> [Float] {
        let kinds = data.floats([n], in: 0...1).floats, x = data.floats([n], in: -1...1).floats
        let special: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, 88.5, -88.5, 87.4, -87.4, 0.125, -0.125,
                                0.1249999, 0.12500001, 1e-30, -1e-30, 44.2, -44.2, 100, -100]
        return zip(kinds, x).enumerated().map { k, pair in
            pair.0 < 0.15 ? special[k % special.count] : pair.1 * scale
        }
    }

    /// Equal bits (any NaN for a NaN: which operand's NaN an add or multiply passes on, and so
    /// its sign, is the compiler's choice of operand order), else the first few differing
    /// elements with what they were computed from.
    func assertSameBits(_ got: [Float], _ want: [Float], _ what: String, inputs: (Int) -> String,
                        file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        let differing = zip(got, want).enumerated().filter { pair in
            let (a, b) = pair.element
            return !(a.isNaN && b.isNaN) && a.bitPattern != b.bitPattern
        }.map(\.offset)
        for at in differing.prefix(4) {
            XCTFail("\(what): element \(at) is \(got[at]) (\(got[at].bitPattern)), want \(want[at]) (\(want[at].bitPattern)); \(inputs(at))",
                    file: file, line: line)
        }
    }

    func testLSTMCellIsTheScalarRuleOnEveryISA() {
        for (rows, h) in [(1, 1), (3, 5), (2, 16), (3, 17), (2, 40), (8, 256)] {
            let gates = awkward(rows * 4 * h, scale: 7), c = awkward(rows * h, scale: 3)
            var expected = [Float](repeating: 0, count: rows * 7 * h)
            for r in 0..<rows {
                for j in 0..<h {
                    let z = { (k: Int) in gates[r * 4 * h + k * h + j] }
                    let i = fastSigmoid(z(0)), f = fastSigmoid(z(1)), g = fastTanh(z(2)), o = fastSigmoid(z(3))
                    let cNew = f * c[r * h + j] + i * g
                    let t = fastTanh(cNew)
                    for (block, value) in [o * t, cNew, i, f, g, o, t].enumerated() { expected[r * 7 * h + block * h + j] = value }
                }
            }
            onEveryISA { isa in
                var out = [Float](repeating: .nan, count: rows * 7 * h)
                gates.withUnsafeBufferPointer { gp in
                    c.withUnsafeBufferPointer { cp in
                        out.withUnsafeMutableBufferPointer { gc_lstm_cell_forward(gp.baseAddress!, cp.baseAddress!, $0.baseAddress!, rows, h) }
                    }
                }
                assertSameBits(out, expected, "\(isa) rows \(rows) h \(h)", inputs: { at in
                    let (r, j) = (at / (7 * h), at % h)
                    return "gates \((0..<4).map { gates[r * 4 * h + $0 * h + j] }), c \(c[r * h + j])"
                })
            }
        }
    }

    /// The kernel through the op: the executor's `lstm_cell` gives the same bits.
    func testLSTMCellOpRunsTheKernel() throws {
        let gates = HostTensor(shape: [3, 4 * 20], floats: awkward(3 * 80, scale: 5)), c = HostTensor(shape: [3, 20], floats: awkward(60, scale: 2))
        var direct = [Float](repeating: 0, count: 3 * 140)
        direct.withUnsafeMutableBufferPointer { gc_lstm_cell_forward(gates.floats, c.floats, $0.baseAddress!, 3, 20) }
        assertSameBits(try runOp(.lstmCell, [gates, c]).floats, direct, "lstm_cell op", inputs: { "element \($0)" })
    }

    /// lstm_cell's backward, naively: per element, the unfused graph's gradient ops in order.
    func lstmBackwardReference(y: [Float], dy: [Float], c: [Float], rows: Int, h: Int) -> (gates: [Float], state: [Float]) {
        var gates = [Float](repeating: 0, count: rows * 4 * h), state = [Float](repeating: 0, count: rows * h)
        for r in 0..<rows {
            for j in 0..<h {
                let Y = { (k: Int) in y[r * 7 * h + k * h + j] }, dY = { (k: Int) in dy[r * 7 * h + k * h + j] }
                let (i, f, g, o, t) = (Y(2), Y(3), Y(4), Y(5), Y(6))
                let dt = dY(6) + dY(0) * o
                let dc = dY(1) + dt * (1 - t * t)
                gates[r * 4 * h + j] = (dY(2) + dc * g) * (i * (1 - i))
                gates[r * 4 * h + h + j] = (dY(3) + dc * c[r * h + j]) * (f * (1 - f))
                gates[r * 4 * h + 2 * h + j] = (dY(4) + dc * i) * (1 - g * g)
                gates[r * 4 * h + 3 * h + j] = (dY(5) + dY(0) * t) * (o * (1 - o))
                state[r * h + j] = dc * f
            }
        }
        return (gates, state)
    }

    /// The backward kernel (either output alone, as each op asks for it; dY whole or as dh and
    /// dc' with zeros elsewhere) against the naive rule, bit for bit, on every ISA; Y from the
    /// forward kernel plus awkward values.
    func testLSTMCellBackwardIsTheNaiveRuleOnEveryISA() {
        for (rows, h) in [(1, 1), (3, 5), (2, 16), (3, 17), (2, 40), (8, 256)] {
            let gates = awkward(rows * 4 * h, scale: 4), c = awkward(rows * h, scale: 2), dy = awkward(rows * 7 * h, scale: 3)
            var y = [Float](repeating: 0, count: rows * 7 * h)
            y.withUnsafeMutableBufferPointer { gc_lstm_cell_forward(gates, c, $0.baseAddress!, rows, h) }
            let dh = (0..<rows * h).map { dy[($0 / h) * 7 * h + $0 % h] }, dcn = (0..<rows * h).map { dy[($0 / h) * 7 * h + h + $0 % h] }
            let onlyState = dy.indices.map { $0 % (7 * h) < 2 * h ? dy[$0] : 0 }
            for split in [false, true] {
                let want = lstmBackwardReference(y: y, dy: split ? onlyState : dy, c: c, rows: rows, h: h)
                onEveryISA { isa in
                    var dg = [Float](repeating: .nan, count: rows * 4 * h), dc = [Float](repeating: .nan, count: rows * h)
                    dg.withUnsafeMutableBufferPointer { out in
                        split ? gc_lstm_cell_backward(y, nil, dh, dcn, c, out.baseAddress!, nil, rows, h)
                              : gc_lstm_cell_backward(y, dy, nil, nil, c, out.baseAddress!, nil, rows, h)
                    }
                    dc.withUnsafeMutableBufferPointer { out in
                        split ? gc_lstm_cell_backward(y, nil, dh, dcn, nil, nil, out.baseAddress!, rows, h)
                              : gc_lstm_cell_backward(y, dy, nil, nil, nil, nil, out.baseAddress!, rows, h)
                    }
                    let what = "\(isa) rows \(rows) h \(h)\(split ? " dh, dc'" : "")"
                    let inputs = { (at: Int) in "row \(at / (4 * h)), Y \((0..<7).map { y[(at / (4 * h)) * 7 * h + $0 * h + at % h] })" }
                    assertSameBits(dg, want.gates, "\(what): gates", inputs: inputs)
                    assertSameBits(dc, want.state, "\(what): state", inputs: { "element \($0)" })
                }
            }
        }
    }

    /// The ops run the kernel at 1 to 3 threads: same bits as the reference, with a batch
    /// axis in front.
    func testLSTMCellBackwardOpsRunTheKernel() throws {
        let (rows, h) = (6, 20)
        let y = data.floats([2, 3, 7 * h], in: -1...1), dy = data.floats([2, 3, 7 * h], in: -2...2), c = data.floats([2, 3, h], in: -2...2)
        let want = lstmBackwardReference(y: y.floats, dy: dy.floats, c: c.floats, rows: rows, h: h)
        for threads in 1...3 {
            let gates = try runOp(.lstmCellGrad, [y, dy, c], threads: threads), state = try runOp(.lstmCellStateGrad, [y, dy], threads: threads)
            XCTAssertEqual(gates.shape, [2, 3, 4 * h]); XCTAssertEqual(state.shape, [2, 3, h])
            assertSameBits(gates.floats, want.gates, "lstm_cell_grad, \(threads) threads", inputs: { "element \($0)" })
            assertSameBits(state.floats, want.state, "lstm_cell_state_grad, \(threads) threads", inputs: { "element \($0)" })
        }
        // The (Y, dh, dc'[, c]) forms: dY's other blocks zero.
        let dh = HostTensor(shape: [2, 3, h], floats: (0..<rows * h).map { dy.floats[($0 / h) * 7 * h + $0 % h] })
        let dcn = HostTensor(shape: [2, 3, h], floats: (0..<rows * h).map { dy.floats[($0 / h) * 7 * h + h + $0 % h] })
        let zeroed = lstmBackwardReference(y: y.floats, dy: dy.floats.indices.map { $0 % (7 * h) < 2 * h ? dy.floats[$0] : 0 }, c: c.floats,
                                           rows: rows, h: h)
        for threads in 1...3 {
            assertSameBits(try runOp(.lstmCellGrad, [y, dh, dcn, c], threads: threads).floats, zeroed.gates, "lstm_cell_grad(Y, dh, dc', c)",
                           inputs: { "element \($0)" })
            assertSameBits(try runOp(.lstmCellStateGrad, [y, dh, dcn], threads: threads).floats, zeroed.state, "lstm_cell_state_grad(Y, dh, dc')",
                           inputs: { "element \($0)" })
        }
    }

    func testAdamIsTheScalarRuleOnEveryISA() {
        let b1: Float = 0.9, b2: Float = 0.999, eps: Float = 1e-8, wd: Float = 0.01, step: Float = 3e-3, c2Root: Float = 0.0447
        for n in [1, 7, 16, 17, 33, 1003] {
            for clip: Float? in [nil, 1.5] {
                let p0 = awkward(n, scale: 2), g = awkward(n, scale: 4)
                let m0 = data.floats([n], in: -1...1).floats, v0 = data.floats([n], in: 0...2).floats
                var (p, m, v) = (p0, m0, v0)
                for i in 0..<n {
                    let gc = clip.map { min(max(g[i], -$0), $0) } ?? g[i]
                    let gi = gc + wd * p[i]
                    m[i] = b1 * m[i] + (1 - b1) * gi
                    v[i] = b2 * v[i] + (1 - b2) * gi * gi
                    p[i] -= step * m[i] / (v[i].squareRoot() / c2Root + eps)
                }
                onEveryISA { isa in
                    var (pk, mk, vk) = (p0, m0, v0)
                    var k = gc_adam_constants(beta1: b1, beta2: b2, epsilon: eps, weight_decay: wd, step_size: step, c2_root: c2Root,
                                              clip: clip ?? 0, has_clip: clip == nil ? 0 : 1)
                    pk.withUnsafeMutableBufferPointer { pp in
                        mk.withUnsafeMutableBufferPointer { mp in
                            vk.withUnsafeMutableBufferPointer { vp in
                                g.withUnsafeBufferPointer { gc_adam_update(pp.baseAddress!, $0.baseAddress!, mp.baseAddress!, vp.baseAddress!, n, &k) }
                            }
                        }
                    }
                    let what = "\(isa) n \(n) clip \(String(describing: clip))"
                    let inputs = { (at: Int) in "p \(p0[at]) g \(g[at]) m \(m0[at]) v \(v0[at])" }
                    assertSameBits(pk, p, "\(what): p", inputs: inputs)
                    assertSameBits(mk, m, "\(what): m", inputs: inputs)
                    assertSameBits(vk, v, "\(what): v", inputs: inputs)
                }
            }
        }
    }
}
