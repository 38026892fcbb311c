import CConvKernels
import GraphIR
@testable import Runtime
import XCTest

/// The Winograd weight gradient (CConvKernels/winograd_grad_weight.c) against naive double
/// sums on every instruction set this CPU has, the same bits at 1-3 threads, and the tuner's
/// `winograd` choice running it.
final class KernelConvGradWeightWinogradTests: XCTestCase {
    let data = TestData(seed: 67)

    struct Case {
        var n: Int, c: Int, h: Int, w: Int, o: Int, pad: Int
        var oh: Int { h + 2 * pad - 2 }
        var ow: Int { w + 2 * pad - 2 }
        var attributes: Attributes { ["stride": .ints([1, 1]), "padding": .ints([pad, pad])] }
        var geometry: ConvGeometry {
            ConvGeometry(x: [n, c, h, w], y: [n, o, oh, ow], kernel: (3, 3), attributes: attributes)
        }
    }

    // The CNN's second layer at batch 8 and its first layer (one input channel, padding 1);
    // output planes that 4x4 tiles do not divide (9x11, 5x4, 1x1); channel counts not
    // multiples of 16 (5, 13, 17, 33) and more input channels than one register tile (13, 29);
    // padding 2; a batch of one and of 19 (groups of unequal runs).
    let cases = [
        Case(n: 8, c: 16, h: 14, w: 14, o: 32, pad: 0),
        Case(n: 3, c: 1, h: 28, w: 28, o: 16, pad: 1),
        Case(n: 1, c: 5, h: 9, w: 11, o: 17, pad: 1),
        Case(n: 2, c: 13, h: 7, w: 6, o: 33, pad: 0),
        Case(n: 19, c: 29, h: 5, w: 3, o: 3, pad: 2),
        Case(n: 4, c: 2, h: 3, w: 3, o: 5, pad: 0),
    ]

    func naive(_ k: Case, x: [Float], dy: [Float]) -> [Double] {
        var want = [Double](repeating: 0, count: k.o * k.c * 9)
        for img in 0..<k.n { for oc in 0..<k.o { for ic in 0..<k.c { for a in 0..<3 { for b in 0..<3 {
            var acc = 0.0
            for i in 0..<k.oh { for j in 0..<k.ow {
                let r = i - k.pad + a, q = j - k.pad + b
                guard r >= 0, r < k.h, q >= 0, q < k.w else { continue }
                acc += Double(dy[((img * k.o + oc) * k.oh + i) * k.ow + j]) * Double(x[((img * k.c + ic) * k.h + r) * k.w + q])
            } }
            want[((oc * k.c + ic) * 3 + a) * 3 + b] += acc
        } } } } }
        return want
    }

    func gradient(_ k: Case, x: [Float], dy: [Float], threads: Int, form: ConvGradWeightForm? = .winograd,
                  tuner: Tuner = Tuner(mode: .off)) -> [Float] {
        var xs = x, dys = dy
        var got = [Float](repeating: .nan, count: k.o * k.c * 9)
        xs.withUnsafeMutableBytes { xb in dys.withUnsafeMutableBytes { db in got.withUnsafeMutableBytes { gb in
            conv2dGradWeight(dy: TensorView(data: db.baseAddress!, shape: [k.n, k.o, k.oh, k.ow], dtype: .f32),
                             x: TensorView(data: xb.baseAddress!, shape: [k.n, k.c, k.h, k.w], dtype: .f32),
                             dw: TensorView(data: gb.baseAddress!, shape: [k.o, k.c, 3, 3], dtype: .f32),
                             attributes: k.attributes, workspace: Workspace(), pool: WorkerPool(threads: threads, tuner: tuner),
                             form: form)
        } } }
        return got
    }

    /// Within 1e-4 of the largest value (issue 13's bound for the forward Winograd), checked
    /// element by element.
    func assertClose(_ got: [Float], _ want: [Double], _ what: String) {
        let scale = max(want.map(abs).max() ?? 0, 1e-30)
        let worst = zip(got, want).map { abs(Double($0) - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-4 * scale, what)
        XCTAssertFalse(got.contains { !$0.isFinite }, what)
    }

    func testMatchesNaiveSumsOnEveryInstructionSetAtAnyThreadCount() {
        let best = VectorISA.limit(to: nil)
        defer { VectorISA.limit(to: nil) }
        for k in cases {
            XCTAssertTrue(k.geometry.allowsWinogradGradWeight(outChannels: k.o), "\(k)")
            let x = data.floats([k.n, k.c, k.h, k.w]).floats, dy = data.floats([k.n, k.o, k.oh, k.ow]).floats
            let want = naive(k, x: x, dy: dy)
            for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
                XCTAssertEqual(VectorISA.limit(to: isa), isa)
                let one = gradient(k, x: x, dy: dy, threads: 1)
                assertClose(one, want, "\(isa) \(k)")
                for threads in 2...3 {
                    let many = gradient(k, x: x, dy: dy, threads: threads)
                    XCTAssertEqual(many.map(\.bitPattern), one.map(\.bitPattern), "\(isa) \(k): \(threads) threads differ from one")
                }
            }
        }
    }

    /// The CNN's second layer at batch 64 with a training step's magnitudes (activations about
    /// 1 after ReLU and pooling, a loss gradient of a few thousandths): each weight gradient
    /// sums 64 x 144 terms.
    func testTheCNNLayerAtBatch64() {
        let k = Case(n: 64, c: 16, h: 14, w: 14, o: 32, pad: 0)
        let x = data.floats([k.n, k.c, k.h, k.w], in: 0...3).floats, dy = data.floats([k.n, k.o, k.oh, k.ow], in: -0.004...0.004).floats
        let want = naive(k, x: x, dy: dy)
        let one = gradient(k, x: x, dy: dy, threads: 1)
        assertClose(one, want, "batch 64")
        XCTAssertEqual(gradient(k, x: x, dy: dy, threads: 2).map(\.bitPattern), one.map(\.bitPattern), "2 threads")
    }

    /// Padding at one end of an axis only ([top, left, bottom, right], as ONNX's pads): the
    /// output plane, not the start padding, says which rows and columns of x are read.
    func testOneSidedPaddingMatchesTheGEMMForm() {
        let n = 3, c = 5, h = 7, w = 6, o = 9
        for p in [[0, 0, 2, 1], [1, 2, 0, 0], [0, 2, 1, 0]] {
            let attributes: Attributes = ["stride": .ints([1, 1]), "padding": .ints(p)]
            let oh = h + p[0] + p[2] - 2, ow = w + p[1] + p[3] - 2
            var x = data.floats([n, c, h, w]).floats, dy = data.floats([n, o, oh, ow]).floats
            var results: [[Float]] = []
            for form in [ConvGradWeightForm.winograd, .perImage] {
                var dw = [Float](repeating: .nan, count: o * c * 9)
                x.withUnsafeMutableBytes { xb in dy.withUnsafeMutableBytes { db in dw.withUnsafeMutableBytes { wb in
                    conv2dGradWeight(dy: TensorView(data: db.baseAddress!, shape: [n, o, oh, ow], dtype: .f32),
                                     x: TensorView(data: xb.baseAddress!, shape: [n, c, h, w], dtype: .f32),
                                     dw: TensorView(data: wb.baseAddress!, shape: [o, c, 3, 3], dtype: .f32),
                                     attributes: attributes, workspace: Workspace(), pool: WorkerPool(threads: 2, tuner: Tuner(mode: .off)),
                                     form: form)
                } } }
                results.append(dw)
            }
            let g = ConvGeometry(x: [n, c, h, w], y: [n, o, oh, ow], kernel: (3, 3), attributes: attributes)
            XCTAssertTrue(g.allowsWinogradGradWeight(outChannels: o), "\(p)")
            assertClose(results[0], results[1].map(Double.init), "padding \(p)")
        }
    }

    /// Shapes the kernel does not take: other windows, strides, dilation, groups.
    func testOfferedFor3x3Stride1Only() {
        XCTAssertFalse(ConvGeometry(x: [2, 4, 9, 9], y: [2, 8, 4, 4], kernel: (3, 3), attributes: ["stride": .ints([2, 2])])
            .allowsWinogradGradWeight(outChannels: 8))
        XCTAssertFalse(ConvGeometry(x: [2, 4, 9, 9], y: [2, 8, 8, 8], kernel: (2, 2), attributes: [:]).allowsWinogradGradWeight(outChannels: 8))
        XCTAssertFalse(ConvGeometry(x: [2, 4, 9, 9], y: [2, 8, 5, 5], kernel: (3, 3), attributes: ["dilation": .ints([2, 2])])
            .allowsWinogradGradWeight(outChannels: 8))
        XCTAssertFalse(ConvGeometry(x: [2, 4, 9, 9], y: [2, 8, 7, 7], kernel: (3, 3), attributes: ["groups": .int(2)])
            .allowsWinogradGradWeight(outChannels: 8))
        XCTAssertFalse(ConvGeometry(x: [2, 512, 9, 9], y: [2, 512, 7, 7], kernel: (3, 3), attributes: [:])
            .allowsWinogradGradWeight(outChannels: 512), "eight transform-domain sums too large")
        XCTAssertFalse(ConvGeometry(x: [1, 64, 226, 226], y: [1, 64, 224, 224], kernel: (3, 3), attributes: [:])
            .allowsWinogradGradWeight(outChannels: 64), "one image's transformed tiles too large")
        XCTAssertTrue(ConvGeometry(x: [1, 64, 58, 58], y: [1, 64, 56, 56], kernel: (3, 3), attributes: [:])
            .allowsWinogradGradWeight(outChannels: 64))
    }

    /// A tuner that chose `winograd` (here: pinned as a cache would) runs this kernel: the bits
    /// of the kernel called by name, not those of `direct`; with a tuner that measures, the
    /// kernel is one of the candidates timed.
    func testTheTunersChoiceRunsTheKernel() {
        let k = cases[0]
        let x = data.floats([k.n, k.c, k.h, k.w]).floats, dy = data.floats([k.n, k.o, k.oh, k.ow]).floats
        let winograd = gradient(k, x: x, dy: dy, threads: 2), direct = gradient(k, x: x, dy: dy, threads: 2, form: .direct)
        XCTAssertNotEqual(winograd.map(\.bitPattern), direct.map(\.bitPattern), "the two kernels sum in different orders")
        let key = TuningKey(point: "conv2d-grad-weight", shapes: [[k.n, k.o, k.oh, k.ow], [k.n, k.c, k.h, k.w]],
                            detail: k.geometry.tuningDetail, threads: 2)
        let pinned = Tuner(mode: .fast)
        pinned.remember(key, variant: ConvGradWeightForm.winograd.rawValue)
        XCTAssertEqual(gradient(k, x: x, dy: dy, threads: 2, form: nil, tuner: pinned).map(\.bitPattern), winograd.map(\.bitPattern))
        XCTAssertEqual(Set(pinned.decisions.map(\.variant)), ["winograd"])

        let measuring = Tuner(mode: .fast)
        _ = gradient(k, x: x, dy: dy, threads: 2, form: nil, tuner: measuring)
        let decision = measuring.decisions.first { $0.key == key }
        XCTAssertEqual(decision?.source, .measured)
        XCTAssertTrue(decision?.seconds.contains { $0.variant == "winograd" } ?? false, "winograd is timed")
    }
}
