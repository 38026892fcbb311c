import GraphIR
import Runtime
import XCTest

/// The specialised kernel paths (2x2 pooling) and a large convolution against naive
/// references, on shapes that exercise their edges.
final class KernelFastPathTests: XCTestCase {
    let data = TestData(seed: 31)

    /// 3 images of 212x212 with a 3x3 kernel: column matrices of 400,000 floats, reused from
    /// image to image in the workspace.
    func testConvolutionOnLargeImages() throws {
        let n = 3, c = 1, h = 212, w = 212, o = 2, k = 3
        let x = data.floats([n, c, h, w]), wt = data.floats([o, c, k, k]), bias = data.floats([o])
        let attrs: Attributes = ["stride": .ints([1, 1]), "padding": .ints([1, 1])]
        var y = [Double](repeating: 0, count: n * o * h * w)
        let dy = data.floats([n, o, h, w])
        var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: wt.count)
        for img in 0..<n { for oc in 0..<o { for i in 0..<h { for j in 0..<w {
            let yi = ((img * o + oc) * h + i) * w + j
            var s = Double(bias.floats[oc])
            for ki in 0..<k { for kj in 0..<k {
                let si = i - 1 + ki, sj = j - 1 + kj
                guard si >= 0, si < h, sj >= 0, sj < w else { continue }
                let xi = (img * h + si) * w + sj, wi = (oc * k + ki) * k + kj
                s += Double(x.floats[xi]) * Double(wt.floats[wi])
                dx[xi] += Double(dy.floats[yi]) * Double(wt.floats[wi])
                dw[wi] += Double(dy.floats[yi]) * Double(x.floats[xi])
            } }
            y[yi] = s
        } } } }
        assertClose(try runOp(.conv2d, [x, wt, bias], attrs), y, shape: [n, o, h, w], "forward")
        assertClose(try runOp(.conv2dGradInput, [dy, wt, x], attrs), dx, shape: x.shape, "grad input")
        assertClose(try runOp(.conv2dGradWeight, [dy, x, wt], attrs), dw, shape: wt.shape, tol: 1e-3, "grad weight")
    }

    /// 2x2 stride-2 pooling of odd sizes (the last row and column belong to no window) with
    /// many ties from rounding, against a scan of each window.
    func testPairPoolingOnOddSizesAndTies() throws {
        let shape = [2, 3, 7, 9]
        let x = HostTensor(shape: shape, floats: data.floats(shape).floats.map { ($0 * 2).rounded() })
        let attrs: Attributes = ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0])]
        let outShape = [2, 3, 3, 4]
        let dy = data.floats(outShape)
        var y: [Double] = [], dx = [Double](repeating: 0, count: x.count)
        for p in 0..<6 { for oi in 0..<3 { for oj in 0..<4 {
            var at = -1, best = -Float.infinity
            for i in 0..<2 { for j in 0..<2 {
                let idx = p * 63 + (2 * oi + i) * 9 + 2 * oj + j
                if at < 0 || x.floats[idx] > best { best = x.floats[idx]; at = idx }
            } }
            y.append(Double(best))
            dx[at] += Double(dy.floats[(p * 3 + oi) * 4 + oj])
        } } }
        assertClose(try runOp(.maxpool2d, [x], attrs), y, shape: outShape, "forward")
        XCTAssertEqual(try runOp(.maxpool2dGrad, [dy, x], attrs).floats, dx.map { Float($0) }, "backward routes to the first maximum")
    }

    /// Windows holding +inf and -inf together (their sum is NaN, like a NaN window's),
    /// infinities alone, and a NaN after the maximum.
    func testPairPoolingWithInfinitiesAndNaN() throws {
        let x = HostTensor(shape: [1, 1, 2, 8], floats: [-.infinity, 1, .infinity, 2, 3, -.infinity, 5, 9,
                                                         .infinity, 0, -.infinity, 7, .nan, -1, 4, .nan])
        let attrs: Attributes = ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0])]
        let y = try runOp(.maxpool2d, [x], attrs).floats
        XCTAssertEqual(Array(y[0..<2]), [.infinity, .infinity])
        XCTAssertTrue(y[2].isNaN && y[3].isNaN, "\(y)")
        let dx = try runOp(.maxpool2dGrad, [HostTensor(shape: [1, 1, 1, 4], floats: [1, 2, 3, 4]), x], attrs).floats
        XCTAssertEqual(dx, [0, 0, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 4], "to the first +inf, or the first NaN")
    }
}
