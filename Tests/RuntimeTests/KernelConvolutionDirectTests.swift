import GraphIR
@testable import Runtime
import XCTest

/// The `direct` forms of conv2d (the blocked kernel over the plain layout, with bias and relu)
/// and conv2d_grad_input (the blocked kernel over dy with the weights flipped), and the `rows`
/// form of conv2d (few input channels), against naive double sums, on every instruction set
/// this CPU has, the same bits at 1-3 threads.
final class KernelConvolutionDirectTests: XCTestCase {
    let data = TestData(seed: 43)

    struct Case {
        var n: Int, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int, s: Int, ph: Int, pw: Int
        /// The stride along the width, when not `s`.
        var sx: Int? = nil
        var sw: Int { sx ?? s }
        var oh: Int { (h + 2 * ph - kh) / s + 1 }
        var ow: Int { (w + 2 * pw - kw) / sw + 1 }
        var attributes: Attributes { ["stride": .ints([s, sw]), "padding": .ints([ph, pw])] }
        var geometry: ConvGeometry { ConvGeometry(x: [n, c, h, w], y: [n, o, oh, ow], kernel: (kh, kw), attributes: attributes) }

        /// body(y index, x index, w index) for every tap inside the image.
        func forEachTap(_ body: (Int, Int, Int) -> Void) {
            for img in 0..<n { for oc in 0..<o { for i in 0..<oh { for j in 0..<ow {
                for ic in 0..<c { for a in 0..<kh { for b in 0..<kw {
                    let r = i * s - ph + a, q = j * sw - pw + b
                    guard r >= 0, r < h, q >= 0, q < w else { continue }
                    body(((img * o + oc) * oh + i) * ow + j, ((img * c + ic) * h + r) * w + q, ((oc * c + ic) * kh + a) * kw + b)
                } } }
            } } } }
        }
    }

    func testDirectForwardMatchesNaiveSums() {
        // The CNN's two layers; a stride of 2 with 32 output channels; asymmetric windows.
        checkForward([Case(n: 3, c: 1, h: 28, w: 28, o: 16, kh: 3, kw: 3, s: 1, ph: 1, pw: 1),
                      Case(n: 4, c: 16, h: 14, w: 14, o: 32, kh: 3, kw: 3, s: 1, ph: 1, pw: 1),
                      Case(n: 2, c: 3, h: 9, w: 8, o: 32, kh: 3, kw: 3, s: 2, ph: 1, pw: 1),
                      Case(n: 2, c: 5, h: 6, w: 11, o: 16, kh: 2, kw: 5, s: 1, ph: 0, pw: 2)], form: .direct)
    }

    func testRowsForwardMatchesNaiveSums() {
        // The CNN's first layer at batch 1 and 3; rows narrower than one 16-column vector, as
        // wide, and wider but not a multiple (the last vector overlapping the one before);
        // three and four channels with a stride of 2 down the rows; output channels that leave
        // a partial group on every instruction set (1, 5, 17, 33); asymmetric windows; padding
        // wider than the kernel reaches (whole rows and columns of zeros).
        let cases = [Case(n: 1, c: 1, h: 28, w: 28, o: 16, kh: 3, kw: 3, s: 1, ph: 1, pw: 1),
                     Case(n: 3, c: 1, h: 28, w: 28, o: 16, kh: 3, kw: 3, s: 1, ph: 1, pw: 1),
                     Case(n: 2, c: 3, h: 9, w: 7, o: 5, kh: 3, kw: 3, s: 2, ph: 1, pw: 1, sx: 1),
                     Case(n: 2, c: 4, h: 7, w: 16, o: 17, kh: 2, kw: 1, s: 2, ph: 0, pw: 0, sx: 1),
                     Case(n: 3, c: 2, h: 6, w: 37, o: 33, kh: 3, kw: 5, s: 1, ph: 2, pw: 3),
                     Case(n: 2, c: 1, h: 3, w: 2, o: 1, kh: 2, kw: 2, s: 1, ph: 3, pw: 4)]
        for k in cases { XCTAssertTrue(k.geometry.allowsRowsForward, "\(k)") }
        checkForward(cases, form: .rows)
    }

    /// `form` forced on conv2dForward for each case, without bias, with bias and relu, and with
    /// bias alone.
    func checkForward(_ cases: [Case], form: ConvolutionForm) {
        for k in cases {
            let x = data.floats([k.n, k.c, k.h, k.w]), wt = data.floats([k.o, k.c, k.kh, k.kw]), bias = data.floats([k.o])
            var sums = [Double](repeating: 0, count: k.n * k.o * k.oh * k.ow)
            k.forEachTap { yi, xi, wi in sums[yi] += Double(x.floats[xi]) * Double(wt.floats[wi]) }
            for (withBias, relu) in [(false, false), (true, true), (true, false)] {
                let want = sums.enumerated().map { i, v -> Double in
                    let t = v + (withBias ? Double(bias.floats[(i / (k.oh * k.ow)) % k.o]) : 0)
                    return relu ? max(0, t) : t
                }
                var attributes = k.attributes
                if relu { attributes["activation"] = .string("relu") }
                onEveryISA { isa in
                    var first: [Float] = []
                    for threads in 1...3 {
                        var xs = x.floats, ws = wt.floats, bs = bias.floats
                        var got = [Float](repeating: .nan, count: want.count)
                        xs.withUnsafeMutableBytes { xb in ws.withUnsafeMutableBytes { wb in bs.withUnsafeMutableBytes { bb in
                            got.withUnsafeMutableBytes { yb in
                                conv2dForward(x: TensorView(data: xb.baseAddress!, shape: x.shape, dtype: .f32),
                                              weight: TensorView(data: wb.baseAddress!, shape: wt.shape, dtype: .f32),
                                              bias: withBias ? TensorView(data: bb.baseAddress!, shape: [k.o], dtype: .f32) : nil,
                                              y: TensorView(data: yb.baseAddress!, shape: [k.n, k.o, k.oh, k.ow], dtype: .f32),
                                              attributes: attributes, workspace: Workspace(),
                                              pool: WorkerPool(threads: threads, tuner: Tuner(mode: .off)), form: form)
                            }
                        } } }
                        for (i, (g, w)) in zip(got, want).enumerated() {
                            XCTAssertEqual(Double(g), w, accuracy: 1e-4 * max(1, abs(w)), "\(form) \(isa) \(k) bias \(withBias) relu \(relu) at \(i)")
                        }
                        if threads == 1 { first = got } else {
                            XCTAssertEqual(got.map(\.bitPattern), first.map(\.bitPattern), "\(form) \(isa) \(k): \(threads) threads")
                        }
                    }
                }
            }
        }
    }

    func testDirectInputGradientMatchesNaiveSums() {
        // The CNN's second layer (padded and not); 32 input channels from 5 outputs with a 2x3
        // window and padding on one axis only; a window as large as the image; rows wider than
        // one register tile (split into tiles of near-equal counts), with one and two output
        // blocks.
        let cases = [Case(n: 4, c: 16, h: 14, w: 14, o: 32, kh: 3, kw: 3, s: 1, ph: 1, pw: 1),
                     Case(n: 3, c: 16, h: 14, w: 14, o: 32, kh: 3, kw: 3, s: 1, ph: 0, pw: 0),
                     Case(n: 3, c: 32, h: 7, w: 6, o: 5, kh: 2, kw: 3, s: 1, ph: 1, pw: 0),
                     Case(n: 2, c: 16, h: 4, w: 4, o: 3, kh: 4, kw: 4, s: 1, ph: 0, pw: 3),
                     Case(n: 2, c: 16, h: 5, w: 30, o: 7, kh: 3, kw: 3, s: 1, ph: 2, pw: 1),
                     Case(n: 2, c: 32, h: 3, w: 50, o: 4, kh: 1, kw: 3, s: 1, ph: 0, pw: 2)]
        for k in cases {
            let wt = data.floats([k.o, k.c, k.kh, k.kw]), dy = data.floats([k.n, k.o, k.oh, k.ow])
            XCTAssertTrue(k.geometry.allowsDirectGradInput, "\(k)")
            var want = [Double](repeating: 0, count: k.n * k.c * k.h * k.w)
            k.forEachTap { yi, xi, wi in want[xi] += Double(dy.floats[yi]) * Double(wt.floats[wi]) }
            onEveryISA { isa in
                var first: [Float] = []
                for threads in 1...3 {
                    var ws = wt.floats, dys = dy.floats
                    var got = [Float](repeating: .nan, count: want.count)
                    ws.withUnsafeMutableBytes { wb in dys.withUnsafeMutableBytes { db in got.withUnsafeMutableBytes { gb in
                        conv2dGradInput(dy: TensorView(data: db.baseAddress!, shape: dy.shape, dtype: .f32),
                                        weight: TensorView(data: wb.baseAddress!, shape: wt.shape, dtype: .f32),
                                        dx: TensorView(data: gb.baseAddress!, shape: [k.n, k.c, k.h, k.w], dtype: .f32),
                                        attributes: k.attributes, workspace: Workspace(),
                                        pool: WorkerPool(threads: threads, tuner: Tuner(mode: .off)), form: .direct)
                    } } }
                    for (i, (g, w)) in zip(got, want).enumerated() {
                        XCTAssertEqual(Double(g), w, accuracy: 1e-4 * max(1, abs(w)), "\(isa) \(k) at \(i)")
                    }
                    if threads == 1 { first = got } else {
                        XCTAssertEqual(got.map(\.bitPattern), first.map(\.bitPattern), "\(isa) \(k): \(threads) threads")
                    }
                }
            }
        }
    }

    /// Shapes the blocked kernel does not take: the direct forms leave them to the GEMMs.
    func testShapesOutsideTheKernelAreNotDirect() {
        XCTAssertFalse(Case(n: 1, c: 3, h: 5, w: 5, o: 8, kh: 3, kw: 3, s: 1, ph: 1, pw: 1).geometry.allowsDirectForward(outChannels: 8))
        XCTAssertFalse(Case(n: 1, c: 16, h: 9, w: 9, o: 8, kh: 3, kw: 3, s: 2, ph: 1, pw: 1).geometry.allowsDirectGradInput)
        XCTAssertFalse(Case(n: 1, c: 16, h: 9, w: 9, o: 8, kh: 3, kw: 3, s: 1, ph: 3, pw: 1).geometry.allowsDirectGradInput)
        XCTAssertFalse(Case(n: 1, c: 12, h: 9, w: 9, o: 8, kh: 3, kw: 3, s: 1, ph: 1, pw: 1).geometry.allowsDirectGradInput)
        XCTAssertFalse(Case(n: 1, c: 16, h: 9, w: 9, o: 8, kh: 3, kw: 3, s: 1, ph: 1, pw: 1).geometry.allowsRowsForward)
        XCTAssertFalse(Case(n: 1, c: 1, h: 9, w: 9, o: 8, kh: 3, kw: 3, s: 1, ph: 1, pw: 1, sx: 2).geometry.allowsRowsForward)
    }
}
