import GraphIR
import Runtime
import XCTest

final class KernelConvolutionTests: XCTestCase {
    let data = TestData(seed: 14)

    struct Case {
        var n: Int, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int, sh: Int, sw: Int, ph: Int, pw: Int
        var oh: Int { (h + 2 * ph - kh) / sh + 1 }
        var ow: Int { (w + 2 * pw - kw) / sw + 1 }
        var attributes: Attributes { ["stride": .ints([sh, sw]), "padding": .ints([ph, pw])] }
    }

    let cases = [
        Case(n: 2, c: 3, h: 7, w: 6, o: 4, kh: 3, kw: 2, sh: 2, sw: 1, ph: 1, pw: 0),
        Case(n: 1, c: 1, h: 28, w: 28, o: 16, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1),
        Case(n: 2, c: 5, h: 4, w: 3, o: 2, kh: 1, kw: 1, sh: 1, sw: 1, ph: 0, pw: 0),
        Case(n: 3, c: 2, h: 9, w: 8, o: 3, kh: 5, kw: 5, sh: 2, sw: 3, ph: 2, pw: 2),
        Case(n: 1, c: 2, h: 5, w: 5, o: 3, kh: 1, kw: 2, sh: 3, sw: 2, ph: 1, pw: 1),
    ]

    /// Calls body(n, o, oi, oj, c, ki, kj, xIndex) for every tap that lands inside the image.
    func forEachTap(_ k: Case, _ body: (_ y: Int, _ x: Int, _ w: Int) -> Void) {
        for n in 0..<k.n { for o in 0..<k.o { for oi in 0..<k.oh { for oj in 0..<k.ow {
            for c in 0..<k.c { for ki in 0..<k.kh { for kj in 0..<k.kw {
                let i = oi * k.sh - k.ph + ki, j = oj * k.sw - k.pw + kj
                guard i >= 0, i < k.h, j >= 0, j < k.w else { continue }
                body(ravel([n, o, oi, oj], [k.n, k.o, k.oh, k.ow]), ravel([n, c, i, j], [k.n, k.c, k.h, k.w]),
                     ravel([o, c, ki, kj], [k.o, k.c, k.kh, k.kw]))
            } } }
        } } } }
    }

    func testConv2dForwardWithAndWithoutBias() throws {
        for k in cases {
            let x = data.floats([k.n, k.c, k.h, k.w]), w = data.floats([k.o, k.c, k.kh, k.kw]), b = data.floats([k.o])
            var expected = [Double](repeating: 0, count: k.n * k.o * k.oh * k.ow)
            forEachTap(k) { yi, xi, wi in expected[yi] += Double(x.floats[xi]) * Double(w.floats[wi]) }
            assertClose(try runOp(.conv2d, [x, w], k.attributes), expected, shape: [k.n, k.o, k.oh, k.ow], "no bias \(k)")
            let withBias = expected.enumerated().map { i, v in v + Double(b.floats[unravel(i, [k.n, k.o, k.oh, k.ow])[1]]) }
            assertClose(try runOp(.conv2d, [x, w, b], k.attributes), withBias, shape: [k.n, k.o, k.oh, k.ow], "bias \(k)")
        }
    }

    func testConv2dGradientsMatchTheAdjointSums() throws {
        for k in cases {
            let x = data.floats([k.n, k.c, k.h, k.w]), w = data.floats([k.o, k.c, k.kh, k.kw])
            let dy = data.floats([k.n, k.o, k.oh, k.ow])
            var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
            forEachTap(k) { yi, xi, wi in
                dx[xi] += Double(dy.floats[yi]) * Double(w.floats[wi])
                dw[wi] += Double(dy.floats[yi]) * Double(x.floats[xi])
            }
            assertClose(try runOp(.conv2dGradInput, [dy, w, x], k.attributes), dx, shape: x.shape, "grad input \(k)")
            assertClose(try runOp(.conv2dGradWeight, [dy, x, w], k.attributes), dw, shape: w.shape, tol: 2e-5, "grad weight \(k)")
        }
    }

    /// Reference window maximum: rows then columns, first strict maximum, padding excluded.
    func windowMax(_ x: [Float], _ shape: [Int], n: Int, c: Int, oi: Int, oj: Int, kernel: [Int], stride: [Int], padding: [Int]) -> Int {
        var best = -Float.infinity, at = -1
        for ki in 0..<kernel[0] { for kj in 0..<kernel[1] {
            let i = oi * stride[0] - padding[0] + ki, j = oj * stride[1] - padding[1] + kj
            guard i >= 0, i < shape[2], j >= 0, j < shape[3] else { continue }
            let idx = ravel([n, c, i, j], shape)
            if at < 0 || x[idx] > best { best = x[idx]; at = idx }
        } }
        return at
    }

    func testMaxpoolForwardAndBackward() throws {
        let configs: [([Int], [Int], [Int], [Int])] = [
            ([2, 3, 8, 8], [2, 2], [2, 2], [0, 0]),
            ([1, 2, 7, 9], [3, 3], [2, 2], [1, 1]),
            ([2, 1, 24, 24], [4, 4], [2, 2], [0, 0]),
            ([1, 2, 5, 6], [3, 2], [1, 2], [1, 0]),
        ]
        for (shape, kernel, stride, padding) in configs {
            let x = data.floats(shape)
            let attrs: Attributes = ["kernel": .ints(kernel), "stride": .ints(stride), "padding": .ints(padding)]
            let oh = (shape[2] + 2 * padding[0] - kernel[0]) / stride[0] + 1, ow = (shape[3] + 2 * padding[1] - kernel[1]) / stride[1] + 1
            let outShape = [shape[0], shape[1], oh, ow]
            let dy = data.floats(outShape)
            var y = [Double](), dx = [Double](repeating: 0, count: x.count)
            for n in 0..<shape[0] { for c in 0..<shape[1] { for oi in 0..<oh { for oj in 0..<ow {
                let at = windowMax(x.floats, shape, n: n, c: c, oi: oi, oj: oj, kernel: kernel, stride: stride, padding: padding)
                y.append(Double(x.floats[at]))
                dx[at] += Double(dy.floats[ravel([n, c, oi, oj], outShape)])
            } } } }
            assertClose(try runOp(.maxpool2d, [x], attrs), y, shape: outShape, "maxpool \(shape) k\(kernel) s\(stride) p\(padding)")
            assertClose(try runOp(.maxpool2dGrad, [dy, x], attrs), dx, shape: shape, "maxpool grad \(shape)")
        }
    }

    /// On equal values PyTorch routes the gradient to the first maximum of each window.
    func testMaxpoolGradientGoesToFirstMaximumOnTies() throws {
        let x = HostTensor(shape: [1, 1, 4, 4], floats: [Float](repeating: 3, count: 16))
        let dy = HostTensor(shape: [1, 1, 2, 2], floats: [1, 2, 3, 4])
        let dx = try runOp(.maxpool2dGrad, [dy, x], ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0])])
        XCTAssertEqual(dx.floats, [1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0])
        // Overlapping windows (kernel 3, stride 1) all pick the top-left of their window.
        let x2 = HostTensor(shape: [1, 1, 3, 4], floats: [Float](repeating: 1, count: 12))
        let dy2 = HostTensor(shape: [1, 1, 1, 2], floats: [5, 7])
        let dx2 = try runOp(.maxpool2dGrad, [dy2, x2], ["kernel": .ints([3, 3]), "stride": .ints([1, 1]), "padding": .ints([0, 0])])
        XCTAssertEqual(dx2.floats, [5, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    /// A NaN in a window wins (PyTorch propagates it), with or without padding.
    func testMaxpoolPropagatesNaN() throws {
        var v = [Float](repeating: 0, count: 16)
        v[5] = .nan; v[10] = 9
        let x = HostTensor(shape: [1, 1, 4, 4], floats: v)
        for padding in [0, 1] {
            let attrs: Attributes = ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([padding, padding])]
            let y = try runOp(.maxpool2d, [x], attrs).floats
            XCTAssertTrue(padding == 0 ? y[0].isNaN : y[4].isNaN, "padding \(padding): \(y)")
            XCTAssertEqual(y.filter { $0.isNaN }.count, 1, "padding \(padding): \(y)")
        }
    }

    func testBatchNormInferenceForm() throws {
        for shape in [[2, 3, 4, 5], [4, 3], [2, 3, 7]] {
            let x = data.floats(shape)
            let gamma = data.floats([3]), beta = data.floats([3]), mean = data.floats([3]), variance = data.floats([3], in: 0.1...2)
            let eps = 1e-3
            let y = try runOp(.batchNorm, [x, gamma, beta, mean, variance], ["eps": .float(eps)])
            let expected = (0..<x.count).map { i -> Double in
                let c = unravel(i, shape)[1]
                return (Double(x.floats[i]) - Double(mean.floats[c])) / (Double(variance.floats[c]) + eps).squareRoot()
                    * Double(gamma.floats[c]) + Double(beta.floats[c])
            }
            assertClose(y, expected, shape: shape, "batch_norm \(shape)")
        }
    }
}
