import GraphIR
@testable import Runtime
import XCTest

/// The `direct` convolution kernels with padding only at the end of an axis, or only at its
/// start (a 4-value `padding`, as ONNX's asymmetric pads): the forward and input gradient run
/// the blocked kernel unpadded when the start padding is zero, so its own bounds checks must
/// keep the windows inside the image. Checked against the GEMM forms, at 1 and 2 threads.
final class ConvolutionDirectEndPaddingTests: XCTestCase {
    let data = TestData(seed: 47)

    /// [top, left, bottom, right] paddings: end only, start only, mixed.
    let paddings = [[0, 0, 2, 1], [1, 2, 0, 0], [0, 2, 1, 0]]

    func view(_ a: inout [Float], _ shape: [Int], _ body: (TensorView) -> Void) {
        a.withUnsafeMutableBytes { body(TensorView(data: $0.baseAddress!, shape: shape, dtype: .f32)) }
    }

    func assertClose(_ got: [Float], _ want: [Float], _ what: String) {
        XCTAssertEqual(got.count, want.count)
        for (i, (g, w)) in zip(got, want).enumerated() where !(abs(g - w) <= 1e-4 * max(1, abs(w))) {
            XCTFail("\(what) at \(i): \(g), want \(w)")
            return
        }
    }

    func testDirectFormsMatchTheGEMMFormsWithOneSidedPadding() {
        let n = 2, c = 16, h = 7, w = 6, o = 16, kh = 3, kw = 2
        for p in paddings {
            let attributes: Attributes = ["stride": .ints([1, 1]), "padding": .ints(p)]
            let oh = h + p[0] + p[2] - kh + 1, ow = w + p[1] + p[3] - kw + 1
            let x0 = data.floats([n, c, h, w]).floats, wt0 = data.floats([o, c, kh, kw]).floats
            let dy0 = data.floats([n, o, oh, ow]).floats
            for threads in 1...2 {
                let pool = WorkerPool(threads: threads, tuner: Tuner(mode: .off))
                var x = x0, wt = wt0, dy = dy0
                func forward(_ form: ConvolutionForm) -> [Float] {
                    var y = [Float](repeating: .nan, count: n * o * oh * ow)
                    view(&x, [n, c, h, w]) { xv in view(&wt, [o, c, kh, kw]) { wv in view(&y, [n, o, oh, ow]) { yv in
                        conv2dForward(x: xv, weight: wv, bias: nil, y: yv, attributes: attributes, workspace: Workspace(),
                                      pool: pool, form: form)
                    } } }
                    return y
                }
                func gradInput(_ form: ConvGradInputForm) -> [Float] {
                    var dx = [Float](repeating: .nan, count: n * c * h * w)
                    view(&dy, [n, o, oh, ow]) { dv in view(&wt, [o, c, kh, kw]) { wv in view(&dx, [n, c, h, w]) { xv in
                        conv2dGradInput(dy: dv, weight: wv, dx: xv, attributes: attributes, workspace: Workspace(), pool: pool,
                                        form: form)
                    } } }
                    return dx
                }
                func gradWeight(_ form: ConvGradWeightForm) -> [Float] {
                    var dw = [Float](repeating: .nan, count: o * c * kh * kw)
                    view(&dy, [n, o, oh, ow]) { dv in view(&x, [n, c, h, w]) { xv in view(&dw, [o, c, kh, kw]) { wv in
                        conv2dGradWeight(dy: dv, x: xv, dw: wv, attributes: attributes, workspace: Workspace(), pool: pool,
                                         form: form)
                    } } }
                    return dw
                }
                let what = "padding \(p), \(threads) threads"
                assertClose(forward(.direct), forward(.im2col), "forward, " + what)
                assertClose(gradInput(.direct), gradInput(.perImage), "input gradient, " + what)
                assertClose(gradWeight(.direct), gradWeight(.perImage), "weight gradient, " + what)
            }
        }
    }
}
