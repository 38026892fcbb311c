import GraphIR
@testable import Runtime
import XCTest

/// The `winograd` forms of conv2d (with bias and relu) and conv2d_grad_input over the plain
/// layout (Winograd F(4x4, 3x3) through the blocked scratch, channels padded to whole blocks)
/// against naive double sums, on every instruction set this CPU has, the same bits at 1-3
/// threads; a finite-difference check of the input gradient through the forward; the tuner's
/// `winograd` choice running this kernel.
final class KernelConvolutionWinogradTests: XCTestCase {
    let data = TestData(seed: 71)
    typealias Case = KernelConvolutionDirectTests.Case

    /// F(4x4, 3x3) in float: rounding errors grow with the transforms' coefficients, so they
    /// are bounded relative to the largest output (as in KernelWinogradTests); a wrong index or
    /// a missed padding channel gives errors of order 1.
    let tolerance = 3e-5

    override func tearDown() { VectorISA.limit(to: nil) }

    func assertCloseToLargest(_ got: [Float], _ want: [Double], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        let largest = max(want.map(abs).max() ?? 0, 1e-30)
        var worst = 0.0, at = 0
        for (i, (g, w)) in zip(got, want).enumerated() where !(abs(Double(g) - w) <= worst) { worst = abs(Double(g) - w); at = i }
        XCTAssertLessThanOrEqual(worst / largest, tolerance, "\(what): element \(at) off by \(worst), largest \(largest)", file: file, line: line)
    }

    func forward(_ k: Case, x: [Float], w: [Float], bias: [Float]?, relu: Bool, threads: Int, tuner: Tuner = Tuner(mode: .off),
                 form: ConvolutionForm? = .winograd) -> [Float] {
        var xs = x, ws = w, bs = bias ?? [0]
        var attributes = k.attributes
        if relu { attributes["activation"] = .string("relu") }
        var got = [Float](repeating: .nan, count: k.n * k.o * k.oh * k.ow)
        xs.withUnsafeMutableBytes { xb in ws.withUnsafeMutableBytes { wb in bs.withUnsafeMutableBytes { bb in got.withUnsafeMutableBytes { yb in
            conv2dForward(x: TensorView(data: xb.baseAddress!, shape: [k.n, k.c, k.h, k.w], dtype: .f32),
                          weight: TensorView(data: wb.baseAddress!, shape: [k.o, k.c, k.kh, k.kw], dtype: .f32),
                          bias: bias == nil ? nil : TensorView(data: bb.baseAddress!, shape: [k.o], dtype: .f32),
                          y: TensorView(data: yb.baseAddress!, shape: [k.n, k.o, k.oh, k.ow], dtype: .f32),
                          attributes: attributes, workspace: Workspace(), pool: WorkerPool(threads: threads, tuner: tuner), form: form)
        } } } }
        return got
    }

    /// The Winograd input gradient called directly (conv2dGradInput runs a batch of one per image).
    func gradInput(_ k: Case, dy: [Float], w: [Float], threads: Int) -> [Float] {
        var ws = w, dys = dy
        var got = [Float](repeating: .nan, count: k.n * k.c * k.h * k.w)
        var ran = false
        ws.withUnsafeMutableBytes { wb in dys.withUnsafeMutableBytes { db in got.withUnsafeMutableBytes { gb in
            ran = conv2dGradInputWinograd(dy: TensorView(data: db.baseAddress!, shape: [k.n, k.o, k.oh, k.ow], dtype: .f32),
                                          weight: TensorView(data: wb.baseAddress!, shape: [k.o, k.c, k.kh, k.kw], dtype: .f32),
                                          dx: TensorView(data: gb.baseAddress!, shape: [k.n, k.c, k.h, k.w], dtype: .f32),
                                          k.geometry, workspace: Workspace(), pool: WorkerPool(threads: threads, tuner: Tuner(mode: .off)))
        } } }
        XCTAssertTrue(ran, "\(k)")
        return got
    }

    func testForwardMatchesNaiveSums() {
        // The CNN's two layers (its second at batch 1 too); channels that are not whole blocks
        // in and out (5 -> 7, 20 -> 33); outputs that 4x4 tiles do not divide; padding 2 (an
        // output larger than the input); a 3x3 input.
        let cases = [Case(n: 4, c: 16, h: 14, w: 14, o: 32, kh: 3, kw: 3, s: 1, ph: 0, pw: 0),
                     Case(n: 1, c: 16, h: 14, w: 14, o: 32, kh: 3, kw: 3, s: 1, ph: 0, pw: 0),
                     Case(n: 3, c: 1, h: 28, w: 28, o: 16, kh: 3, kw: 3, s: 1, ph: 1, pw: 1),
                     Case(n: 1, c: 5, h: 9, w: 11, o: 7, kh: 3, kw: 3, s: 1, ph: 1, pw: 1),
                     Case(n: 2, c: 20, h: 6, w: 5, o: 33, kh: 3, kw: 3, s: 1, ph: 0, pw: 0),
                     Case(n: 2, c: 3, h: 3, w: 3, o: 16, kh: 3, kw: 3, s: 1, ph: 2, pw: 1)]
        for k in cases {
            XCTAssertTrue(k.geometry.allowsWinogradForward, "\(k)")
            let x = data.floats([k.n, k.c, k.h, k.w]).floats, w = data.floats([k.o, k.c, 3, 3]).floats, bias = data.floats([k.o]).floats
            var sums = [Double](repeating: 0, count: k.n * k.o * k.oh * k.ow)
            k.forEachTap { yi, xi, wi in sums[yi] += Double(x[xi]) * Double(w[wi]) }
            for (withBias, relu) in [(false, false), (true, true), (true, false)] {
                let want = sums.enumerated().map { i, v -> Double in
                    let t = v + (withBias ? Double(bias[(i / (k.oh * k.ow)) % k.o]) : 0)
                    return relu ? max(0, t) : t
                }
                onEveryISA { isa in
                    let first = forward(k, x: x, w: w, bias: withBias ? bias : nil, relu: relu, threads: 1)
                    assertCloseToLargest(first, want, "\(isa) \(k) bias \(withBias) relu \(relu)")
                    for threads in 2...3 {
                        let got = forward(k, x: x, w: w, bias: withBias ? bias : nil, relu: relu, threads: threads)
                        XCTAssertEqual(got.map(\.bitPattern), first.map(\.bitPattern), "\(isa) \(k): \(threads) threads")
                    }
                }
            }
        }
    }

    func testInputGradientMatchesNaiveSums() {
        // The CNN's second layer (unpadded, a full correlation with padding 2, and padded);
        // batch 1; channels that are not whole blocks either side; padding 2 (the flipped
        // kernel's padding 0); odd sizes.
        let cases = [Case(n: 3, c: 16, h: 14, w: 14, o: 32, kh: 3, kw: 3, s: 1, ph: 0, pw: 0),
                     Case(n: 1, c: 16, h: 14, w: 14, o: 32, kh: 3, kw: 3, s: 1, ph: 0, pw: 0),
                     Case(n: 2, c: 16, h: 14, w: 14, o: 32, kh: 3, kw: 3, s: 1, ph: 1, pw: 1),
                     Case(n: 2, c: 5, h: 7, w: 10, o: 7, kh: 3, kw: 3, s: 1, ph: 1, pw: 0),
                     Case(n: 3, c: 17, h: 5, w: 6, o: 33, kh: 3, kw: 3, s: 1, ph: 2, pw: 2)]
        for k in cases {
            XCTAssertTrue(k.geometry.allowsWinogradGradInput, "\(k)")
            let w = data.floats([k.o, k.c, 3, 3]).floats, dy = data.floats([k.n, k.o, k.oh, k.ow]).floats
            var want = [Double](repeating: 0, count: k.n * k.c * k.h * k.w)
            k.forEachTap { yi, xi, wi in want[xi] += Double(dy[yi]) * Double(w[wi]) }
            onEveryISA { isa in
                let first = gradInput(k, dy: dy, w: w, threads: 1)
                assertCloseToLargest(first, want, "\(isa) \(k)")
                for threads in 2...3 {
                    XCTAssertEqual(gradInput(k, dy: dy, w: w, threads: threads).map(\.bitPattern), first.map(\.bitPattern), "\(isa) \(k): \(threads) threads")
                }
            }
        }
    }

    /// The input gradient is the forward's adjoint: for L(x) = Σ r · conv(x), central
    /// differences of L through the Winograd forward (exact for a linear L, up to rounding) match
    /// the Winograd input gradient of r.
    func testInputGradientIsTheForwardsDerivative() {
        for k in [Case(n: 2, c: 16, h: 14, w: 14, o: 32, kh: 3, kw: 3, s: 1, ph: 0, pw: 0),
                  Case(n: 1, c: 3, h: 6, w: 7, o: 5, kh: 3, kw: 3, s: 1, ph: 1, pw: 1)] {
            let x = data.floats([k.n, k.c, k.h, k.w]).floats, w = data.floats([k.o, k.c, 3, 3]).floats
            let r = data.floats([k.n, k.o, k.oh, k.ow]).floats
            let dx = gradInput(k, dy: r, w: w, threads: 2)
            func loss(_ x: [Float]) -> Double {
                zip(forward(k, x: x, w: w, bias: nil, relu: false, threads: 2), r).reduce(0) { $0 + Double($1.0) * Double($1.1) }
            }
            let h: Float = 0.5
            for i in stride(from: 0, to: x.count, by: max(1, x.count / 40)) {
                var up = x, down = x
                up[i] += h
                down[i] -= h
                let numeric = (loss(up) - loss(down)) / (2 * Double(h))
                XCTAssertEqual(Double(dx[i]), numeric, accuracy: 2e-3 * max(1, abs(numeric)), "\(k) at \(i)")
            }
        }
    }

    /// A tuning cache that names `winograd` for the forward's key runs this kernel: the
    /// same bits as the form forced, and not those of im2col + GEMM (whose sums round differently).
    func testTheTunersWinogradChoiceRunsTheWinogradKernel() throws {
        let k = Case(n: 4, c: 16, h: 14, w: 14, o: 32, kh: 3, kw: 3, s: 1, ph: 0, pw: 0)
        let x = data.floats([k.n, k.c, k.h, k.w]).floats, w = data.floats([k.o, k.c, 3, 3]).floats, bias = data.floats([k.o]).floats
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-winograd-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let cache = TuningCache(url: directory.appendingPathComponent("tuning.json"))
        let discovery = Tuner(mode: .fast, cache: cache)
        _ = forward(k, x: x, w: w, bias: bias, relu: true, threads: 2, tuner: discovery, form: nil)
        let key = try XCTUnwrap(discovery.decisions.first { $0.key.point == "conv2d-forward" }?.key)
        cache.remember("winograd", for: key, on: discovery.machine)
        let tuner = Tuner(mode: .fast, cache: cache)
        let tuned = forward(k, x: x, w: w, bias: bias, relu: true, threads: 2, tuner: tuner, form: nil)
        XCTAssertEqual(tuner.decisions.first { $0.key == key }?.variant, "winograd")
        let forced = forward(k, x: x, w: w, bias: bias, relu: true, threads: 2)
        let gemm = forward(k, x: x, w: w, bias: bias, relu: true, threads: 2, form: .im2col)
        XCTAssertEqual(tuned.map(\.bitPattern), forced.map(\.bitPattern))
        XCTAssertNotEqual(tuned.map(\.bitPattern), gemm.map(\.bitPattern))
    }

    /// Shapes the Winograd forms do not take (they fall back to the GEMMs).
    func testShapesOutsideWinogradAreNotTaken() {
        XCTAssertFalse(Case(n: 1, c: 16, h: 9, w: 9, o: 16, kh: 3, kw: 3, s: 2, ph: 1, pw: 1).geometry.allowsWinogradForward)
        XCTAssertFalse(Case(n: 1, c: 16, h: 9, w: 9, o: 16, kh: 5, kw: 5, s: 1, ph: 2, pw: 2).geometry.allowsWinogradForward)
        XCTAssertFalse(Case(n: 1, c: 16, h: 9, w: 9, o: 16, kh: 3, kw: 2, s: 1, ph: 1, pw: 1).geometry.allowsWinogradForward)
        XCTAssertFalse(Case(n: 1, c: 16, h: 9, w: 9, o: 16, kh: 3, kw: 3, s: 1, ph: 3, pw: 1).geometry.allowsWinogradGradInput)
        let dilated = ConvGeometry(x: [1, 16, 9, 9], y: [1, 16, 5, 5], kernel: (3, 3),
                                   attributes: ["stride": .ints([1, 1]), "padding": .ints([0, 0]), "dilation": .ints([2, 2])])
        XCTAssertFalse(dilated.allowsWinogradForward)
        // Timed only where at least half the blocked channels are real.
        XCTAssertEqual([1, 3, 8, 9, 16, 17, 24, 32, 33].map { ConvGeometry.winogradWorthTiming(inChannels: $0) },
                       [false, false, false, true, true, true, true, true, true])
    }
}
