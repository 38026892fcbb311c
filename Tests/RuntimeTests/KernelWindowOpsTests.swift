import GraphIR
import Runtime
import XCTest

/// The window ops' ONNX attributes (groups, dilation, asymmetric padding, ceil_mode, average
/// pooling) against naive references that accumulate in Double.
final class KernelWindowOpsTests: XCTestCase {
    let data = TestData(seed: 41)

    struct Conv {
        var n: Int, c: Int, h: Int, w: Int, o: Int, kh: Int, kw: Int
        var stride: [Int], pads: [Int], dilation: [Int], groups: Int
        var oh: Int { (h + pads[0] + pads[2] - dilation[0] * (kh - 1) - 1) / stride[0] + 1 }
        var ow: Int { (w + pads[1] + pads[3] - dilation[1] * (kw - 1) - 1) / stride[1] + 1 }
        var cg: Int { c / groups }
        var attributes: Attributes {
            ["stride": .ints(stride), "padding": .ints(pads), "dilation": .ints(dilation), "groups": .int(groups)]
        }
        var outShape: [Int] { [n, o, oh, ow] }

        /// body(y index, x index, w index) for every tap inside the image.
        func forEachTap(_ body: (Int, Int, Int) -> Void) {
            let og = o / groups
            for b in 0..<n { for oc in 0..<o { for oi in 0..<oh { for oj in 0..<ow {
                let group = oc / og
                for ch in 0..<cg { for ki in 0..<kh { for kj in 0..<kw {
                    let i = oi * stride[0] - pads[0] + ki * dilation[0], j = oj * stride[1] - pads[1] + kj * dilation[1]
                    guard i >= 0, i < h, j >= 0, j < w else { continue }
                    body(ravel([b, oc, oi, oj], outShape), ravel([b, group * cg + ch, i, j], [n, c, h, w]),
                         ravel([oc, ch, ki, kj], [o, cg, kh, kw]))
                } } }
            } } } }
        }
    }

    let convCases = [
        // Depthwise (ShuffleNet, MobileNet): one channel per group.
        Conv(n: 2, c: 4, h: 7, w: 6, o: 4, kh: 3, kw: 3, stride: [1, 1], pads: [1, 1, 1, 1], dilation: [1, 1], groups: 4),
        // Two groups, two outputs per group, stride 2 and asymmetric padding (TF "SAME").
        Conv(n: 2, c: 6, h: 8, w: 7, o: 4, kh: 3, kw: 2, stride: [2, 2], pads: [0, 1, 1, 0], dilation: [1, 1], groups: 2),
        // Dilation without groups.
        Conv(n: 1, c: 3, h: 9, w: 9, o: 5, kh: 3, kw: 3, stride: [1, 2], pads: [2, 2, 2, 2], dilation: [2, 3], groups: 1),
        // Grouped 1x1 (ShuffleNet's pointwise layers).
        Conv(n: 3, c: 6, h: 4, w: 5, o: 9, kh: 1, kw: 1, stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1], groups: 3),
        // 1x1 with padding only at the end: the output outgrows the input.
        Conv(n: 2, c: 4, h: 3, w: 4, o: 2, kh: 1, kw: 1, stride: [1, 1], pads: [0, 0, 1, 2], dilation: [1, 1], groups: 2),
        // Everything at once, with padding only at the end.
        Conv(n: 2, c: 4, h: 6, w: 8, o: 6, kh: 2, kw: 3, stride: [2, 1], pads: [0, 0, 2, 1], dilation: [2, 1], groups: 2),
    ]

    func testGroupedDilatedAsymmetricConvolution() throws {
        for k in convCases {
            let x = data.floats([k.n, k.c, k.h, k.w]), w = data.floats([k.o, k.cg, k.kh, k.kw]), b = data.floats([k.o])
            var y = [Double](repeating: 0, count: k.outShape.reduce(1, *))
            k.forEachTap { yi, xi, wi in y[yi] += Double(x.floats[xi]) * Double(w.floats[wi]) }
            let withBias = y.indices.map { y[$0] + Double(b.floats[unravel($0, k.outShape)[1]]) }
            assertClose(try runOp(.conv2d, [x, w, b], k.attributes), withBias, shape: k.outShape, "conv2d \(k)")
            var fused = k.attributes
            fused["activation"] = .string("relu")
            assertClose(try runOp(.fusedConv2d, [x, w, b], fused), withBias.map { max($0, 0) }, shape: k.outShape, "fused \(k)")

            let dy = data.floats(k.outShape)
            var dx = [Double](repeating: 0, count: x.count), dw = [Double](repeating: 0, count: w.count)
            k.forEachTap { yi, xi, wi in
                dx[xi] += Double(dy.floats[yi]) * Double(w.floats[wi])
                dw[wi] += Double(dy.floats[yi]) * Double(x.floats[xi])
            }
            assertClose(try runOp(.conv2dGradInput, [dy, w, x], k.attributes), dx, shape: x.shape, "grad input \(k)")
            assertClose(try runOp(.conv2dGradWeight, [dy, x, w], k.attributes), dw, shape: w.shape, tol: 2e-5, "grad weight \(k)")
        }
    }

    /// Reference window maximum for maxpool with dilation: first strict maximum, padding excluded.
    func windowMax(_ x: [Float], _ shape: [Int], n: Int, c: Int, oi: Int, oj: Int, kernel: [Int], stride: [Int],
                   pads: [Int], dilation: [Int]) -> Int {
        var best = -Float.infinity, at = -1
        for ki in 0..<kernel[0] { for kj in 0..<kernel[1] {
            let i = oi * stride[0] - pads[0] + ki * dilation[0], j = oj * stride[1] - pads[1] + kj * dilation[1]
            guard i >= 0, i < shape[2], j >= 0, j < shape[3] else { continue }
            let idx = ravel([n, c, i, j], shape)
            if at < 0 || x[idx] > best { best = x[idx]; at = idx }
        } }
        return at
    }

    /// Output size with ceil_mode as PyTorch defines it: a last window must start inside the
    /// image or its begin padding.
    func pooledSize(_ size: Int, k: Int, s: Int, begin: Int, end: Int, d: Int = 1, ceil: Bool) -> Int {
        let span = size + begin + end - d * (k - 1) - 1
        var out = (ceil ? (span + s - 1) / s : span / s) + 1
        if ceil && (out - 1) * s >= size + begin { out -= 1 }
        return out
    }

    func testMaxpoolWithAsymmetricPaddingCeilModeAndDilation() throws {
        let configs: [(shape: [Int], kernel: [Int], stride: [Int], pads: [Int], dilation: [Int], ceil: Bool)] = [
            ([1, 2, 7, 7], [3, 3], [2, 2], [0, 0, 0, 0], [1, 1], true),     // GoogLeNet's ceil-mode pools
            ([2, 1, 8, 9], [2, 3], [2, 2], [0, 1, 1, 0], [1, 1], false),
            ([1, 2, 9, 8], [3, 2], [1, 2], [1, 0, 1, 1], [2, 2], true),
            ([2, 2, 6, 6], [2, 2], [2, 2], [0, 0, 0, 0], [1, 1], true),     // the pair pool, ceil_mode changing nothing
            ([1, 1, 5, 5], [2, 2], [2, 2], [0, 0, 0, 0], [1, 1], true),     // ceil_mode adds a clipped window
        ]
        for cfg in configs {
            let x = data.floats(cfg.shape)
            let attrs: Attributes = ["kernel": .ints(cfg.kernel), "stride": .ints(cfg.stride), "padding": .ints(cfg.pads),
                                     "dilation": .ints(cfg.dilation), "ceil_mode": .bool(cfg.ceil)]
            let oh = pooledSize(cfg.shape[2], k: cfg.kernel[0], s: cfg.stride[0], begin: cfg.pads[0], end: cfg.pads[2], d: cfg.dilation[0], ceil: cfg.ceil)
            let ow = pooledSize(cfg.shape[3], k: cfg.kernel[1], s: cfg.stride[1], begin: cfg.pads[1], end: cfg.pads[3], d: cfg.dilation[1], ceil: cfg.ceil)
            let outShape = [cfg.shape[0], cfg.shape[1], oh, ow]
            let dy = data.floats(outShape)
            var y = [Double](), dx = [Double](repeating: 0, count: x.count)
            for n in 0..<cfg.shape[0] { for c in 0..<cfg.shape[1] { for oi in 0..<oh { for oj in 0..<ow {
                let at = windowMax(x.floats, cfg.shape, n: n, c: c, oi: oi, oj: oj, kernel: cfg.kernel, stride: cfg.stride,
                                   pads: cfg.pads, dilation: cfg.dilation)
                y.append(at >= 0 ? Double(x.floats[at]) : -.infinity)
                if at >= 0 { dx[at] += Double(dy.floats[ravel([n, c, oi, oj], outShape)]) }
            } } } }
            assertClose(try runOp(.maxpool2d, [x], attrs), y, shape: outShape, "maxpool \(cfg)")
            assertClose(try runOp(.maxpool2dGrad, [dy, x], attrs), dx, shape: cfg.shape, "maxpool grad \(cfg)")
        }
    }

    func testAveragePoolDivisorsAndGradient() throws {
        let configs: [(shape: [Int], kernel: [Int], stride: [Int], pads: [Int], ceil: Bool, includePad: Bool)] = [
            ([2, 2, 6, 6], [2, 2], [2, 2], [0, 0, 0, 0], false, false),
            ([1, 2, 7, 7], [3, 3], [2, 2], [1, 1, 1, 1], false, true),
            ([1, 2, 7, 7], [3, 3], [2, 2], [1, 1, 1, 1], false, false),
            ([1, 1, 6, 7], [3, 2], [2, 3], [0, 1, 2, 0], true, true),
            ([2, 1, 5, 5], [3, 3], [2, 2], [0, 0, 0, 0], true, false),
            ([1, 3, 7, 7], [7, 7], [1, 1], [0, 0, 0, 0], false, false),   // global pooling as a window
        ]
        for cfg in configs {
            let x = data.floats(cfg.shape)
            let attrs: Attributes = ["kernel": .ints(cfg.kernel), "stride": .ints(cfg.stride), "padding": .ints(cfg.pads),
                                     "ceil_mode": .bool(cfg.ceil), "count_include_pad": .bool(cfg.includePad)]
            let (h, w) = (cfg.shape[2], cfg.shape[3])
            let oh = pooledSize(h, k: cfg.kernel[0], s: cfg.stride[0], begin: cfg.pads[0], end: cfg.pads[2], ceil: cfg.ceil)
            let ow = pooledSize(w, k: cfg.kernel[1], s: cfg.stride[1], begin: cfg.pads[1], end: cfg.pads[3], ceil: cfg.ceil)
            let outShape = [cfg.shape[0], cfg.shape[1], oh, ow]
            let dy = data.floats(outShape)
            var y = [Double](), dx = [Double](repeating: 0, count: x.count)
            for n in 0..<cfg.shape[0] { for c in 0..<cfg.shape[1] { for oi in 0..<oh { for oj in 0..<ow {
                // Taps of the window inside the padded input (PyTorch's divisor with count_include_pad).
                var taps: [Int] = [], padded = 0
                for ki in 0..<cfg.kernel[0] { for kj in 0..<cfg.kernel[1] {
                    let i = oi * cfg.stride[0] - cfg.pads[0] + ki, j = oj * cfg.stride[1] - cfg.pads[1] + kj
                    guard i < h + cfg.pads[2], j < w + cfg.pads[3] else { continue }
                    padded += 1
                    if i >= 0, i < h, j >= 0, j < w { taps.append(ravel([n, c, i, j], cfg.shape)) }
                } }
                let divisor = Double(cfg.includePad ? padded : taps.count)
                y.append(taps.reduce(0) { $0 + Double(x.floats[$1]) } / divisor)
                let g = Double(dy.floats[ravel([n, c, oi, oj], outShape)])
                for t in taps { dx[t] += g / divisor }
            } } } }
            assertClose(try runOp(.avgpool2d, [x], attrs), y, shape: outShape, "avgpool \(cfg)")
            assertClose(try runOp(.avgpool2dGrad, [dy, x], attrs), dx, shape: cfg.shape, "avgpool grad \(cfg)")
        }
    }

    /// The same pooling without the optional attributes is the default (floor, no padding counted).
    func testAveragePoolDefaults() throws {
        let x = HostTensor(shape: [1, 1, 3, 3], floats: [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let y = try runOp(.avgpool2d, [x], ["kernel": .ints([2, 2]), "stride": .ints([1, 1]), "padding": .ints([1, 1])])
        // Corner windows hold one element; edges two; inner four.
        XCTAssertEqual(y.shape, [1, 1, 4, 4])
        XCTAssertEqual(y.floats, [1, 1.5, 2.5, 3, 2.5, 3, 4, 4.5, 5.5, 6, 7, 7.5, 7, 7.5, 8.5, 9])
    }

    /// A 2^32 x 2^32 window over a 2 x 2 image, nearly all padding: each output reads one
    /// element, and with count_include_pad divides by 2^64 (more than an Int holds).
    func testAveragePoolOfAWindowMostlyInPadding() throws {
        let x = HostTensor(shape: [1, 1, 2, 2], floats: [1, 2, 3, 4])
        var attrs: Attributes = ["kernel": .ints([1 << 32, 1 << 32]), "stride": .ints([1 << 32, 1 << 32]),
                                 "padding": .ints([(1 << 32) - 1, (1 << 32) - 1])]
        XCTAssertEqual(try runOp(.avgpool2d, [x], attrs).floats, [1, 2, 3, 4])
        attrs["count_include_pad"] = .bool(true)
        XCTAssertEqual(try runOp(.avgpool2d, [x], attrs).floats, [1, 2, 3, 4].map { $0 * 0x1p-64 })
        let dy = HostTensor(shape: [1, 1, 2, 2], floats: [4, 4, 4, 4])
        XCTAssertEqual(try runOp(.avgpool2dGrad, [dy, x], attrs).floats, [Float](repeating: 0x1p-62, count: 4))
    }
}
