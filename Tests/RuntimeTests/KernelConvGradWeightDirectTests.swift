import CConvKernels
import GraphIR
@testable import Runtime
import XCTest

/// The direct weight-gradient kernel (CConvKernels/conv_grad_weight.c) and the row kernel for
/// few input channels (conv_rows.c) against naive double sums on every instruction set this
/// CPU has, at 1-3 threads, and the same bits at every thread count.
final class KernelConvGradWeightDirectTests: XCTestCase {
    let data = TestData(seed: 41)

    struct Case {
        var n: Int, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int, sh: Int, sw: Int, ph: Int, pw: Int, dh: Int, dw: Int
        var oh: Int { (h + 2 * ph - dh * (kh - 1) - 1) / sh + 1 }
        var ow: Int { (w + 2 * pw - dw * (kw - 1) - 1) / sw + 1 }
        var attributes: Attributes {
            ["stride": .ints([sh, sw]), "padding": .ints([ph, pw]), "dilation": .ints([dh, dw])]
        }
    }

    // The CNN's two layers at batch 8; output channels not a multiple of 16 (17, 5, 3, 33);
    // more columns than one register tile holds and a partial last tile; strides, dilation,
    // padding wider than the kernel reaches, a 1x1 window with stride, a batch of one group
    // and of many groups.
    let cases = [
        Case(n: 8, c: 1, h: 28, w: 28, o: 16, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1),
        Case(n: 8, c: 16, h: 14, w: 14, o: 32, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1),
        Case(n: 3, c: 3, h: 9, w: 8, o: 17, kh: 3, kw: 3, sh: 1, sw: 1, ph: 2, pw: 2, dh: 2, dw: 2),
        Case(n: 7, c: 3, h: 11, w: 9, o: 5, kh: 3, kw: 2, sh: 2, sw: 1, ph: 1, pw: 0, dh: 1, dw: 1),
        Case(n: 2, c: 2, h: 5, w: 5, o: 3, kh: 1, kw: 1, sh: 3, sw: 2, ph: 1, pw: 1, dh: 1, dw: 1),
        Case(n: 19, c: 5, h: 6, w: 7, o: 33, kh: 2, kw: 3, sh: 1, sw: 2, ph: 0, pw: 1, dh: 1, dw: 1),
    ]

    func naive(_ k: Case, x: [Float], dy: [Float]) -> [Double] {
        var want = [Double](repeating: 0, count: k.o * k.c * k.kh * k.kw)
        for img in 0..<k.n { for oc in 0..<k.o { for ic in 0..<k.c { for a in 0..<k.kh { for b in 0..<k.kw {
            var acc = 0.0
            for i in 0..<k.oh { for j in 0..<k.ow {
                let r = i * k.sh - k.ph + a * k.dh, q = j * k.sw - k.pw + b * k.dw
                guard r >= 0, r < k.h, q >= 0, q < k.w else { continue }
                acc += Double(dy[((img * k.o + oc) * k.oh + i) * k.ow + j]) * Double(x[((img * k.c + ic) * k.h + r) * k.w + q])
            } }
            want[((oc * k.c + ic) * k.kh + a) * k.kw + b] += acc
        } } } } }
        return want
    }

    func direct(_ k: Case, x: [Float], dy: [Float], threads: Int, form: ConvGradWeightForm = .direct) -> [Float] {
        var xs = x, dys = dy
        var got = [Float](repeating: .nan, count: k.o * k.c * k.kh * k.kw)
        xs.withUnsafeMutableBytes { xb in dys.withUnsafeMutableBytes { db in got.withUnsafeMutableBytes { gb in
            conv2dGradWeight(dy: TensorView(data: db.baseAddress!, shape: [k.n, k.o, k.oh, k.ow], dtype: .f32),
                             x: TensorView(data: xb.baseAddress!, shape: [k.n, k.c, k.h, k.w], dtype: .f32),
                             dw: TensorView(data: gb.baseAddress!, shape: [k.o, k.c, k.kh, k.kw], dtype: .f32),
                             attributes: k.attributes, workspace: Workspace(),
                             pool: WorkerPool(threads: threads, tuner: Tuner(mode: .off)), form: form)
        } } }
        return got
    }

    func testDirectWeightGradientMatchesNaiveSumsOnEveryInstructionSet() {
        check(cases, form: .direct)
    }

    func testRowsWeightGradientMatchesNaiveSumsOnEveryInstructionSet() {
        // The CNN's first layer at batch 8, 1 and 19 (three runs of images, the last short);
        // three channels with a stride of 2 down the rows; rows narrower than a vector (a
        // padded copy), exactly one vector, and wider with a last vector overlapping the one
        // before; a 7-column kernel; output channels that leave a partial register group (5,
        // 17, 33); padding wider than the kernel reaches.
        let rows = [
            cases[0], cases[3],
            Case(n: 1, c: 1, h: 28, w: 28, o: 16, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1),
            Case(n: 19, c: 1, h: 28, w: 28, o: 16, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1),
            Case(n: 3, c: 2, h: 6, w: 16, o: 17, kh: 2, kw: 1, sh: 1, sw: 1, ph: 0, pw: 0, dh: 1, dw: 1),
            Case(n: 4, c: 4, h: 5, w: 37, o: 33, kh: 3, kw: 7, sh: 1, sw: 1, ph: 1, pw: 3, dh: 1, dw: 1),
            Case(n: 2, c: 1, h: 3, w: 2, o: 5, kh: 2, kw: 2, sh: 1, sw: 1, ph: 3, pw: 4, dh: 1, dw: 1),
        ]
        for k in rows {
            let g = ConvGeometry(x: [k.n, k.c, k.h, k.w], y: [k.n, k.o, k.oh, k.ow], kernel: (k.kh, k.kw), attributes: k.attributes)
            XCTAssertTrue(g.allowsRowsGradWeight, "\(k)")
        }
        check(rows, form: .rows)
    }

    func check(_ cases: [Case], form: ConvGradWeightForm) {
        let best = VectorISA.limit(to: nil)
        defer { VectorISA.limit(to: nil) }
        for k in cases {
            let x = data.floats([k.n, k.c, k.h, k.w]).floats, dy = data.floats([k.n, k.o, k.oh, k.ow]).floats
            let want = naive(k, x: x, dy: dy)
            for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
                XCTAssertEqual(VectorISA.limit(to: isa), isa)
                let one = direct(k, x: x, dy: dy, threads: 1, form: form)
                for (i, (gv, wv)) in zip(one, want).enumerated() {
                    XCTAssertEqual(Double(gv), wv, accuracy: 1e-4 * max(1, abs(wv)), "\(form) \(isa) \(k) at \(i)")
                }
                for threads in 2...3 {
                    let many = direct(k, x: x, dy: dy, threads: threads, form: form)
                    XCTAssertEqual(many.map(\.bitPattern), one.map(\.bitPattern), "\(form) \(isa) \(k): \(threads) threads differ from one")
                }
            }
        }
    }

    /// Shapes the kernel does not take (groups) still get the gradient, by the per-image GEMMs.
    func testGroupedConvolutionFallsBackToTheGEMMForm() throws {
        let k = Case(n: 2, c: 2, h: 5, w: 5, o: 4, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1)
        let x = data.floats([k.n, 4, k.h, k.w]), dy = data.floats([k.n, k.o, k.oh, k.ow])
        var attributes = k.attributes
        attributes["groups"] = .int(2)
        var xs = x.floats, dys = dy.floats
        var direct = [Float](repeating: .nan, count: k.o * 2 * 9), perImage = direct
        for (form, out) in [(ConvGradWeightForm.direct, 0), (.perImage, 1)] {
            var got = [Float](repeating: .nan, count: k.o * 2 * 9)
            xs.withUnsafeMutableBytes { xb in dys.withUnsafeMutableBytes { db in got.withUnsafeMutableBytes { gb in
                conv2dGradWeight(dy: TensorView(data: db.baseAddress!, shape: dy.shape, dtype: .f32),
                                 x: TensorView(data: xb.baseAddress!, shape: x.shape, dtype: .f32),
                                 dw: TensorView(data: gb.baseAddress!, shape: [k.o, 2, 3, 3], dtype: .f32),
                                 attributes: attributes, workspace: Workspace(), pool: WorkerPool(threads: 2, tuner: Tuner(mode: .off)),
                                 form: form)
            } } }
            if out == 0 { direct = got } else { perImage = got }
        }
        XCTAssertEqual(direct.map(\.bitPattern), perImage.map(\.bitPattern))
        XCTAssertFalse(direct.contains { $0.isNaN })
    }

    /// More groups than the partials' memory allows (one image of a large layer per group):
    /// the groups are summed in runs, the workspace holds 8 partials plus one per chunk, not one
    /// per group, and the sum still matches the per-image GEMMs, the same bits at 1-3 threads.
    func testManyGroupsAreSummedInBoundedMemory() {
        // 32 images of 8 x 30 x 30, padded to 32 x 32: two images a group, 16 groups.
        let k = Case(n: 32, c: 8, h: 30, w: 30, o: 16, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1)
        var x = data.floats([k.n, k.c, k.h, k.w]).floats, dy = data.floats([k.n, k.o, k.oh, k.ow]).floats
        let count = k.o * k.c * k.kh * k.kw
        var first: [Float] = []
        for threads in 1...3 {
            let pool = WorkerPool(threads: threads, tuner: Tuner(mode: .off)), workspace = Workspace()
            var got = [Float](repeating: .nan, count: count), want = got
            var scratchFloats = 0, groups = 0
            x.withUnsafeMutableBytes { xb in dy.withUnsafeMutableBytes { db in
                let xv = TensorView(data: xb.baseAddress!, shape: [k.n, k.c, k.h, k.w], dtype: .f32)
                let dyv = TensorView(data: db.baseAddress!, shape: [k.n, k.o, k.oh, k.ow], dtype: .f32)
                let g = ConvGeometry(x: xv.shape, y: dyv.shape, kernel: (k.kh, k.kw), attributes: k.attributes)
                var geometry = g.gradWeightGeometry(outChannels: k.o)
                let perGroup = gc_grad_weight_group_images(&geometry, k.n)
                groups = (k.n + perGroup - 1) / perGroup
                scratchFloats = gc_grad_weight_scratch(&geometry, perGroup)
                got.withUnsafeMutableBytes { gb in
                    let dw = TensorView(data: gb.baseAddress!, shape: [k.o, k.c, k.kh, k.kw], dtype: .f32)
                    XCTAssertTrue(conv2dGradWeightDirect(dy: dyv, x: xv, dw: dw, g, workspace: workspace, pool: pool, partialFloats: 0))
                }
                want.withUnsafeMutableBytes { wb in
                    conv2dGradWeight(dy: dyv, x: xv, dw: TensorView(data: wb.baseAddress!, shape: [k.o, k.c, k.kh, k.kw], dtype: .f32),
                                     attributes: k.attributes, workspace: Workspace(), pool: pool, form: .perImage)
                }
            } }
            XCTAssertGreaterThan(groups, 8)
            XCTAssertLessThanOrEqual(workspace.byteCount, 4 * ((scratchFloats + count) * pool.chunks(8) + 7 * count))
            for (i, (gv, wv)) in zip(got, want).enumerated() where !(abs(gv - wv) <= 1e-3 * max(1, abs(wv))) {
                XCTFail("\(threads) threads at \(i): \(gv), want \(wv)")
                break
            }
            if threads == 1 { first = got } else { XCTAssertEqual(got.map(\.bitPattern), first.map(\.bitPattern), "\(threads) threads") }
        }
    }
}
