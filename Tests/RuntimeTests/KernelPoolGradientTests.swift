import Foundation
import Frontend
import GraphIR
import Passes
@testable import Runtime
import XCTest

/// The max-pool forward's and backward's vector paths (2x2 windows, stride 2:
/// CConvKernels/training_kernels.c) and the backward's relu fold, against a naive scan of each
/// window; and the dropout mask's draws.
final class KernelPoolGradientTests: XCTestCase {
    let data = TestData(seed: 53)
    let pair: Attributes = ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0])]

    /// Values with many exact ties (zeros of both signs, small integers), some NaNs and
    /// infinities of both signs.
    func awkward(_ shape: [Int]) -> HostTensor {
        let u = data.floats(shape, in: 0...1).floats, v = data.floats(shape, in: -3...3).floats
        return HostTensor(shape: shape, floats: zip(u, v).map { r, x in
            r < 0.2 ? 0 : r < 0.25 ? -0.0 : r < 0.26 ? .nan : r < 0.27 ? .infinity : r < 0.28 ? -.infinity : r < 0.6 ? x.rounded() : x
        })
    }

    /// Each dy to its window's first strict maximum or first NaN (windows scanned row by row;
    /// padding never wins), overlaps added in Double; with `relu`, only where that maximum is > 0.
    func reference(x: HostTensor, dy: HostTensor, k: [Int], s: [Int], p: [Int], relu: Bool) -> [Float] {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), (oh, ow) = (dy.shape[2], dy.shape[3])
        var dx = [Double](repeating: 0, count: x.count)
        for plane in 0..<(n * c) { for oi in 0..<oh { for oj in 0..<ow {
            var at = -1
            scan: for i in 0..<k[0] { for j in 0..<k[1] {
                let r = oi * s[0] - p[0] + i, q = oj * s[1] - p[1] + j
                guard r >= 0, r < h, q >= 0, q < w else { continue }
                let idx = (plane * h + r) * w + q, v = x.floats[idx]
                if v.isNaN { at = idx; break scan }
                if at < 0 || v > x.floats[at] { at = idx }
            } }
            guard at >= 0, !relu || x.floats[at] > 0 else { continue }
            dx[at] += Double(dy.floats[(plane * oh + oi) * ow + oj])
        } } }
        return dx.map { Float($0) }
    }

    func backward(_ x: HostTensor, _ dy: HostTensor, _ a: Attributes, pool: WorkerPool) -> [Float] {
        var xs = x.floats, dys = dy.floats
        var dx = [Float](repeating: .nan, count: x.count)
        xs.withUnsafeMutableBytes { xb in
            dys.withUnsafeMutableBytes { dyb in
                dx.withUnsafeMutableBytes { db in
                    maxpool2dBackward(dy: TensorView(data: dyb.baseAddress!, shape: dy.shape, dtype: .f32),
                                      x: TensorView(data: xb.baseAddress!, shape: x.shape, dtype: .f32),
                                      dx: TensorView(data: db.baseAddress!, shape: x.shape, dtype: .f32), attributes: a,
                                      pool: pool, grain: 1)
                }
            }
        }
        return dx
    }

    func assertSameBits(_ got: [Float], _ want: [Float], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        let bad = zip(got, want).enumerated().filter { $0.element.0.bitPattern != $0.element.1.bitPattern }
        XCTAssertTrue(bad.isEmpty, "\(what): \(bad.count) differ, first at \(bad.first.map { "\($0.offset): \($0.element)" } ?? "")",
                      file: file, line: line)
    }

    /// Rows of 14 windows (16-column spans, the last overlapping the one before), 6 (8-column
    /// spans), 2 and 3 (4-column spans), 20; odd heights and widths leave a row and a column to
    /// no window.
    func testPairPoolBackwardOnEveryInstructionSetAndThreadCount() {
        let best = VectorISA.limit(to: nil)
        defer { VectorISA.limit(to: nil) }
        let shapes = [[2, 3, 28, 28], [3, 2, 12, 12], [1, 2, 7, 9], [2, 1, 5, 6], [1, 3, 9, 40], [1, 1, 17, 29]]
        for shape in shapes {
            let x = awkward(shape), dy = data.floats([shape[0], shape[1], shape[2] / 2, shape[3] / 2])
            for relu in [false, true] {
                var a = pair
                if relu { a["activation"] = .string("relu") }
                let want = reference(x: x, dy: dy, k: [2, 2], s: [2, 2], p: [0, 0], relu: relu)
                for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
                    XCTAssertEqual(VectorISA.limit(to: isa), isa)
                    for threads in 1...3 {
                        let got = backward(x, dy, a, pool: WorkerPool(threads: threads, tuner: Tuner(mode: .off)))
                        assertSameBits(got, want, "\(shape) relu \(relu) \(isa) \(threads) threads")
                    }
                }
            }
        }
    }

    /// Each window's last maximum in scan order (so a tie of +0 and -0 keeps the later zero, as
    /// `max(max(a, b), max(c, d))` with `max(p, q) = q >= p ? q : p` does), NaN if it holds one.
    func forwardReference(_ x: HostTensor) -> [Float] {
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3]), (oh, ow) = (h / 2, w / 2)
        var y: [Float] = []
        for plane in 0..<planes { for oi in 0..<oh { for oj in 0..<ow {
            var best = -Float.infinity, sawNaN = false
            for i in 0..<2 { for j in 0..<2 {
                let v = x.floats[(plane * h + 2 * oi + i) * w + 2 * oj + j]
                if v.isNaN { sawNaN = true } else if v >= best { best = v }
            } }
            y.append(sawNaN ? .nan : best)
        } } }
        return y
    }

    /// The forward's vector spans (16, 8 and 4 columns, overlapping at a row's end) and its
    /// scalar windows, with ties of both zeros, NaNs and infinities of both signs, on every
    /// instruction set and 1-3 threads: the same bits as the naive scan.
    func testPairPoolForwardOnEveryInstructionSetAndThreadCount() {
        let shapes = [[2, 3, 28, 28], [3, 2, 12, 12], [1, 2, 7, 9], [2, 1, 5, 6], [1, 3, 9, 40], [1, 1, 17, 29], [1, 1, 2, 2]]
        for shape in shapes {
            let x = awkward(shape), yShape = [shape[0], shape[1], shape[2] / 2, shape[3] / 2]
            let want = forwardReference(x)
            onEveryISA { isa in
                for threads in 1...3 {
                    var xs = x.floats
                    var got = [Float](repeating: 7, count: want.count)
                    xs.withUnsafeMutableBytes { xb in got.withUnsafeMutableBytes { yb in
                        maxpool2dForward(x: TensorView(data: xb.baseAddress!, shape: shape, dtype: .f32),
                                         y: TensorView(data: yb.baseAddress!, shape: yShape, dtype: .f32), attributes: pair,
                                         pool: WorkerPool(threads: threads, tuner: Tuner(mode: .off)), grain: 1)
                    } }
                    assertSameBits(got, want, "\(shape) \(isa) \(threads) threads")
                }
            }
        }
    }

    /// Every row width from 1 to 20 windows (spans of 16, 8 and 4 columns, the last moved
    /// back over the one before, and single windows), with and without a column and a row no
    /// window covers, both directions, on every instruction set: the bits of the naive scans.
    func testPairPoolSpansOfEveryWidth() {
        assertSpansOfEveryWidthMatchTheScans(awkward)
    }

    /// As above with values from {0, -0, 1, -1, inf, -inf} and 1% NaNs: nearly every window has
    /// a tie (the span paths' first-maximum masks meet every order of equal values), many both
    /// infinities, and a span now and then a NaN (in the overlap at a row's end too).
    func testPairPoolSpansOfTiesAndSpecialValues() {
        let values: [Float] = [0, -0.0, 1, -1, .infinity, -.infinity]
        assertSpansOfEveryWidthMatchTheScans { shape in
            HostTensor(shape: shape, floats: self.data.floats(shape, in: 0...1).floats.map { r in
                r < 0.01 ? .nan : values[min(Int((r - 0.01) / 0.99 * Float(values.count)), values.count - 1)]
            })
        }
    }

    func assertSpansOfEveryWidthMatchTheScans(_ make: ([Int]) -> HostTensor, file: StaticString = #filePath, line: UInt = #line) {
        for ow in 1...20 {
            for (extraRow, extraColumn) in [(0, 0), (1, 1)] {
                let shape = [2, 2, 4 + extraRow, 2 * ow + extraColumn]
                let x = make(shape), yShape = [2, 2, 2, ow], dy = data.floats(yShape)
                let forwardWant = forwardReference(x)
                let wants = [false, true].map { reference(x: x, dy: dy, k: [2, 2], s: [2, 2], p: [0, 0], relu: $0) }
                onEveryISA { isa in
                    for threads in [1, 2] {
                        let pool = WorkerPool(threads: threads, tuner: Tuner(mode: .off))
                        var xs = x.floats
                        var y = [Float](repeating: 7, count: forwardWant.count)
                        xs.withUnsafeMutableBytes { xb in y.withUnsafeMutableBytes { yb in
                            maxpool2dForward(x: TensorView(data: xb.baseAddress!, shape: shape, dtype: .f32),
                                             y: TensorView(data: yb.baseAddress!, shape: yShape, dtype: .f32), attributes: pair,
                                             pool: pool, grain: 1)
                        } }
                        assertSameBits(y, forwardWant, "forward \(shape) \(isa) \(threads) threads", file: file, line: line)
                        for (relu, want) in zip([false, true], wants) {
                            var a = pair
                            if relu { a["activation"] = .string("relu") }
                            assertSameBits(backward(x, dy, a, pool: pool), want, "backward \(shape) relu \(relu) \(isa) \(threads) threads",
                                           file: file, line: line)
                        }
                    }
                }
            }
        }
    }

    /// The general path's relu fold: overlapping 3x3 windows with padding.
    func testReluFoldOnOverlappingWindows() throws {
        let x = awkward([2, 2, 9, 8]), dy = data.floats([2, 2, 5, 4])
        var a: Attributes = ["kernel": .ints([3, 3]), "stride": .ints([2, 2]), "padding": .ints([1, 1])]
        a["activation"] = .string("relu")
        let got = try runOp(.maxpool2dGrad, [dy, x], a)
        let want = reference(x: x, dy: dy, k: [3, 3], s: [2, 2], p: [1, 1], relu: true)
        for (g, w) in zip(got.floats, want) { XCTAssertEqual(g, w, accuracy: 1e-5) }
        a["activation"] = .string("tanh")
        XCTAssertThrowsError(try runOp(.maxpool2dGrad, [dy, x], a), "only none or relu")
    }

    /// The fusion pass folds relu_grad into the CNN's two pool gradients (the first block's
    /// then taken into its pooled weight gradient, which keeps the fold as its activation, then
    /// recomputed), and
    /// the fused training step computes what the unfused one does.
    func testFusionFoldsReluGradIntoPoolGradients() throws {
        let path = FusionEquivalenceTests.repository.appendingPathComponent("graphs/cnn.swiftgraph").path
        let model = try Frontend.lower(path: path, options: FrontendOptions(mode: .train))
        let context = PassContext(options: PassOptions(verifyEach: true))
        let (_, training) = try Pipelines.compileForTraining(model, context)
        // (recompute-pooled-convolutions then makes the pooled weight gradient recompute its windows.)
        let pooled: Set<OpDef> = [.pooledConv2dGradWeight, .recomputedPooledConv2dGradWeight]
        let folded = training.nodes.filter {
            ($0.op == .maxpool2dGrad || pooled.contains($0.op)) && $0.attributes[.activation] == "relu"
        }
        XCTAssertEqual(folded.count, 2)
        XCTAssertEqual(training.nodes.filter { pooled.contains($0.op) }.count, 1)
        XCTAssertEqual(training.nodes.filter { $0.op == .reluGrad && $0.type.rank == 4 }.count, 0)
    }

    /// Every form of the weight gradient (one GEMM per image, images stacked into one long
    /// sum, the direct kernel, Winograd) against a naive sum, with padding, strides and odd sizes, on 1-3 threads.
    func testWeightGradientFormsAgainstNaiveSums() {
        // (n, c, h, w, o, k, stride, pad): the CNN's two layers, and odd ones.
        let cases = [(9, 1, 28, 28, 16, 3, 1, 1), (5, 16, 14, 14, 32, 3, 1, 0), (7, 3, 11, 9, 5, 3, 2, 1), (3, 2, 6, 7, 4, 2, 1, 0)]
        for (n, c, h, w, o, k, st, pd) in cases {
            let oh = (h + 2 * pd - k) / st + 1, ow = (w + 2 * pd - k) / st + 1
            let x = data.floats([n, c, h, w]), dy = data.floats([n, o, oh, ow])
            var want = [Double](repeating: 0, count: o * c * k * k)
            for img in 0..<n { for oc in 0..<o { for ic in 0..<c { for ki in 0..<k { for kj in 0..<k {
                var acc = 0.0
                for i in 0..<oh { for j in 0..<ow {
                    let r = i * st - pd + ki, q = j * st - pd + kj
                    guard r >= 0, r < h, q >= 0, q < w else { continue }
                    acc += Double(dy.floats[((img * o + oc) * oh + i) * ow + j]) * Double(x.floats[((img * c + ic) * h + r) * w + q])
                } }
                want[((oc * c + ic) * k + ki) * k + kj] += acc
            } } } } }
            let a: Attributes = ["stride": .ints([st, st]), "padding": .ints([pd, pd])]
            for form in ConvGradWeightForm.allCases {
                for threads in 1...3 {
                    var xs = x.floats, dys = dy.floats
                    var got = [Float](repeating: .nan, count: want.count)
                    xs.withUnsafeMutableBytes { xb in dys.withUnsafeMutableBytes { db in got.withUnsafeMutableBytes { gb in
                        conv2dGradWeight(dy: TensorView(data: db.baseAddress!, shape: dy.shape, dtype: .f32),
                                         x: TensorView(data: xb.baseAddress!, shape: x.shape, dtype: .f32),
                                         dw: TensorView(data: gb.baseAddress!, shape: [o, c, k, k], dtype: .f32), attributes: a,
                                         workspace: Workspace(), pool: WorkerPool(threads: threads, tuner: Tuner(mode: .off)), form: form)
                    } } }
                    // Winograd's rounding follows the sums' largest value, not each element's (issue 13's bound).
                    let largest = want.map(abs).max() ?? 0
                    for (i, (gv, wv)) in zip(got, want).enumerated() {
                        let bound = form == .winograd ? 1e-4 * max(1, largest) : 1e-4 * max(1, abs(wv))
                        XCTAssertEqual(Double(gv), wv, accuracy: bound, "\(form) \(threads) threads \(n)x\(c)x\(h)x\(w) k\(k) at \(i)")
                    }
                }
            }
        }
    }

    /// Every form of the input gradient against a naive scatter of dy through the weights.
    func testInputGradientFormsAgainstNaiveSums() {
        let cases = [(5, 16, 14, 14, 32, 3, 1, 0), (7, 3, 11, 9, 5, 3, 2, 1), (3, 2, 6, 7, 4, 2, 1, 0)]
        for (n, c, h, w, o, k, st, pd) in cases {
            let oh = (h + 2 * pd - k) / st + 1, ow = (w + 2 * pd - k) / st + 1
            let wt = data.floats([o, c, k, k]), dy = data.floats([n, o, oh, ow])
            var want = [Double](repeating: 0, count: n * c * h * w)
            for img in 0..<n { for oc in 0..<o { for i in 0..<oh { for j in 0..<ow {
                let g = Double(dy.floats[((img * o + oc) * oh + i) * ow + j])
                for ic in 0..<c { for ki in 0..<k { for kj in 0..<k {
                    let r = i * st - pd + ki, q = j * st - pd + kj
                    guard r >= 0, r < h, q >= 0, q < w else { continue }
                    want[((img * c + ic) * h + r) * w + q] += g * Double(wt.floats[((oc * c + ic) * k + ki) * k + kj])
                } } }
            } } } }
            let a: Attributes = ["stride": .ints([st, st]), "padding": .ints([pd, pd])]
            for form in ConvGradInputForm.allCases {
                for threads in 1...3 {
                    var ws = wt.floats, dys = dy.floats
                    var got = [Float](repeating: .nan, count: want.count)
                    ws.withUnsafeMutableBytes { wb in dys.withUnsafeMutableBytes { db in got.withUnsafeMutableBytes { gb in
                        conv2dGradInput(dy: TensorView(data: db.baseAddress!, shape: dy.shape, dtype: .f32),
                                        weight: TensorView(data: wb.baseAddress!, shape: wt.shape, dtype: .f32),
                                        dx: TensorView(data: gb.baseAddress!, shape: [n, c, h, w], dtype: .f32), attributes: a,
                                        workspace: Workspace(), pool: WorkerPool(threads: threads, tuner: Tuner(mode: .off)), form: form)
                    } } }
                    // Winograd's rounding grows with its transforms: bounded relative to the largest output.
                    let largest = want.map(abs).max() ?? 0
                    for (i, (gv, wv)) in zip(got, want).enumerated() {
                        let bound = form == .winograd ? 3e-5 * max(1, largest) : 1e-4 * max(1, abs(wv))
                        XCTAssertEqual(Double(gv), wv, accuracy: bound, "\(form) \(threads) threads \(n)x\(c)x\(h)x\(w) k\(k) at \(i)")
                    }
                }
            }
        }
    }

    /// The bias gradient's sum over every axis but the channel, with rows (H*W) shorter and
    /// longer than the sixteen accumulators and not a multiple of them.
    func testChannelSumsAgainstDoubleSums() throws {
        for shape in [[3, 4, 1, 1], [2, 3, 3, 5], [2, 2, 4, 4], [3, 2, 1, 17], [4, 16, 28, 28]] {
            let x = data.floats(shape)
            let inner = shape[2] * shape[3]
            var want = [Double](repeating: 0, count: shape[1])
            for i in 0..<x.count { want[(i / inner) % shape[1]] += Double(x.floats[i]) }
            let got = try runOp(.sum, [x], ["axes": .ints([0, 2, 3])])
            XCTAssertEqual(got.shape, [shape[1]])
            for (g, w) in zip(got.floats, want) { XCTAssertEqual(Double(g), w, accuracy: 1e-5 * max(1, abs(w)), "\(shape)") }
        }
    }

    /// `fillMask` thresholds the draws as integers: the same mask as `nextFloat() >= p` for p
    /// on a draw's grid (k / 2^24), just off it, tiny, near and above 1, at most 0 and NaN, and
    /// the stream goes on where `nextFloat` would.
    func testMaskDrawsMatchFloatDraws() {
        let grid: Float = 1.0 / 16_777_216
        let ps: [Float] = [0.3, 0.5, 5_000_000 * grid, (5_000_000 * grid).nextUp, (5_000_000 * grid).nextDown, grid, grid / 2,
                           1e-30, 0.99999994, 1, 1.5, .infinity, 0, -0.0, -1, .nan]
        for (k, p) in ps.enumerated() {
            let a = RandomSource(seed: UInt64(k)), b = RandomSource(seed: UInt64(k))
            let n = 1000 + k
            var got = [Float](repeating: 7, count: n)
            got.withUnsafeMutableBufferPointer { a.fillMask($0.baseAddress!, count: n, keepingFrom: p, value: 2.5) }
            let want: [Float] = (0..<n).map { _ in b.nextFloat() >= p ? 2.5 : 0 }
            XCTAssertEqual(got.map(\.bitPattern), want.map(\.bitPattern), "p \(p)")
            XCTAssertEqual(a.next(), b.next(), "p \(p): the stream goes on")
        }
        // On the grid's steps around p, a draw equal to p is kept and the one below is not.
        let b = RandomSource(seed: 9)
        var draws = [Float](repeating: 0, count: 4096)
        draws.withUnsafeMutableBufferPointer { b.fillUniform($0.baseAddress!, count: 4096) }
        for p in draws.prefix(64) {
            let c = RandomSource(seed: 9)
            var got = [Float](repeating: 7, count: 4096)
            got.withUnsafeMutableBufferPointer { c.fillMask($0.baseAddress!, count: 4096, keepingFrom: p, value: 1) }
            XCTAssertEqual(got, draws.map { $0 >= p ? 1 : 0 }, "p \(p), itself a draw")
        }
    }

    /// The dropout mask is drawn from the executor's stream exactly as one `nextFloat` per
    /// element (so masks, and training runs, stay what they were for a seed).
    func testDropoutMaskKeepsTheStream() throws {
        let shape = [7, 93], p: Float = 0.3
        let got = try runOp(.dropoutMask, [data.floats(shape)], ["p": .float(Double(p))], training: true, seed: 77).floats
        let reference = RandomSource(seed: 77)
        let want = (0..<(7 * 93)).map { _ in reference.nextFloat() < p ? 0 : 1 / (1 - p) }
        XCTAssertEqual(got, want)
        XCTAssertTrue(got.contains(0) && got.contains(1 / (1 - p)))

        let a = RandomSource(seed: 5), b = RandomSource(seed: 5)
        var block = [Float](repeating: 0, count: 37)
        block.withUnsafeMutableBufferPointer { a.fillUniform($0.baseAddress!, count: 37) }
        XCTAssertEqual(block, (0..<37).map { _ in b.nextFloat() })
        XCTAssertEqual(a.next(), b.next(), "the state continues where the draws left it")
    }
}
