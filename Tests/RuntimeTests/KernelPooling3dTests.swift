import GraphIR
import Runtime
import XCTest

/// 3-D max and average pooling and the maxima's positions against a naive reference that
/// walks every tap of every window (sums in Double).
final class KernelPooling3dTests: XCTestCase {
    let data = TestData(seed: 43)

    struct Pool {
        var shape: [Int]            // [N, C, spatial...]
        var kernel: [Int], stride: [Int], pads: [Int], dilation: [Int]
        var ceil = false, includePad = false
        var axes: Int { shape.count - 2 }
        var attributes: Attributes {
            ["kernel": .ints(kernel), "stride": .ints(stride), "padding": .ints(pads), "dilation": .ints(dilation),
             "ceil_mode": .bool(ceil)]
        }
        /// ONNX's output size: floor or ceil, and a ceil_mode window must start inside the
        /// input or its begin padding.
        func outSize(_ a: Int) -> Int {
            let span = shape[a + 2] + pads[a] + pads[a + axes] - dilation[a] * (kernel[a] - 1) - 1
            var out = Int((Double(span) / Double(stride[a])).rounded(ceil ? .up : .down)) + 1
            if ceil && (out - 1) * stride[a] >= shape[a + 2] + pads[a] { out -= 1 }
            return out
        }
        var outShape: [Int] { Array(shape[..<2]) + (0..<axes).map(outSize) }

        /// For each output (flat index, in order): the flat input indices of its taps inside
        /// the input in scan order, and the number of its taps inside the padded input.
        func windows() -> [(taps: [Int], padded: Int)] {
            var result: [(taps: [Int], padded: Int)] = []
            let out = outShape
            for flat in 0..<out.reduce(1, *) {
                let o = unravel(flat, out)
                var taps: [Int] = [], padded = 0
                var k = [Int](repeating: 0, count: axes)
                while true {
                    var pos: [Int] = [], inPadded = true, inInput = true
                    for a in 0..<axes {
                        let p: Int = o[a + 2] * stride[a] - pads[a] + k[a] * dilation[a]
                        pos.append(p)
                        if p < -pads[a] || p >= shape[a + 2] + pads[a + axes] { inPadded = false }
                        if p < 0 || p >= shape[a + 2] { inInput = false }
                    }
                    if inPadded { padded += 1 }
                    if inInput { taps.append(ravel([o[0], o[1]] + pos, shape)) }
                    // The next kernel position, last axis fastest.
                    var a = axes - 1
                    while a >= 0 { k[a] += 1; if k[a] < kernel[a] { break }; k[a] = 0; a -= 1 }
                    if a < 0 { break }
                }
                result.append((taps, padded))
            }
            return result
        }
    }

    let cases = [
        Pool(shape: [1, 2, 5, 6, 7], kernel: [2, 3, 2], stride: [1, 2, 2], pads: [0, 0, 0, 0, 0, 0], dilation: [1, 1, 1]),
        Pool(shape: [2, 1, 6, 5, 5], kernel: [3, 2, 3], stride: [2, 1, 2], pads: [1, 0, 1, 1, 1, 0], dilation: [1, 1, 1],
             ceil: true, includePad: true),
        Pool(shape: [1, 1, 9, 8, 9], kernel: [3, 2, 3], stride: [3, 2, 2], pads: [0, 0, 0, 0, 0, 0], dilation: [2, 2, 3],
             ceil: true),
        Pool(shape: [1, 2, 7, 7, 6], kernel: [2, 2, 2], stride: [2, 2, 2], pads: [1, 1, 0, 1, 1, 2], dilation: [2, 1, 2],
             includePad: true),
        // ONNX's large dilated case in small: the ceil-mode window clipped past the end.
        Pool(shape: [1, 1, 13, 12, 13], kernel: [5, 5, 5], stride: [3, 3, 3], pads: [0, 0, 0, 0, 0, 0], dilation: [2, 2, 2],
             ceil: true, includePad: true),
    ]

    func testMaxpool3dAndItsGradient() throws {
        for k in cases {
            let x = data.floats(k.shape), dy = data.floats(k.outShape)
            let xs = x.floats, dys = dy.floats
            var y: [Double] = [], dx = [Double](repeating: 0, count: x.count)
            for (o, w) in k.windows().enumerated() {
                var at = -1
                for t in w.taps where at < 0 || xs[t] > xs[at] { at = t }
                y.append(at >= 0 ? Double(xs[at]) : -.infinity)
                if at >= 0 { dx[at] += Double(dys[o]) }
            }
            assertClose(try runOp(.maxpool3d, [x], k.attributes), y, shape: k.outShape, "maxpool3d \(k)")
            assertClose(try runOp(.maxpool3dGrad, [dy, x], k.attributes), dx, shape: k.shape, "maxpool3d grad \(k)")
        }
    }

    func testAvgpool3dDivisorsAndGradient() throws {
        for k in cases {
            var attributes = k.attributes
            attributes["count_include_pad"] = .bool(k.includePad)
            let x = data.floats(k.shape), dy = data.floats(k.outShape)
            let xs = x.floats, dys = dy.floats
            var y: [Double] = [], dx = [Double](repeating: 0, count: x.count)
            for (o, w) in k.windows().enumerated() {
                let divisor = Double(max(k.includePad ? w.padded : w.taps.count, 1))
                y.append(w.taps.reduce(0) { $0 + Double(xs[$1]) } / divisor)
                for t in w.taps { dx[t] += Double(dys[o]) / divisor }
            }
            assertClose(try runOp(.avgpool3d, [x], attributes), y, shape: k.outShape, "avgpool3d \(k)")
            assertClose(try runOp(.avgpool3dGrad, [dy, x], attributes), dx, shape: k.shape, "avgpool3d grad \(k)")
        }
    }

    /// Row-major positions over the whole tensor; column-major within each image (ONNX's
    /// storage_order=1), for 2-D and 3-D windows.
    func testMaxpoolIndicesInBothOrders() throws {
        let twoD = [
            Pool(shape: [2, 3, 5, 4], kernel: [2, 2], stride: [1, 1], pads: [0, 0, 0, 0], dilation: [1, 1]),
            Pool(shape: [1, 2, 7, 6], kernel: [3, 2], stride: [2, 2], pads: [1, 0, 1, 1], dilation: [2, 1], ceil: true),
        ]
        for k in twoD + cases {
            let x = data.floats(k.shape)
            let xs = x.floats, spatial = Array(k.shape[2...])
            for columnMajor in [false, true] {
                var attributes = k.attributes
                attributes["column_major"] = .bool(columnMajor)
                var expected: [Int64] = []
                for w in k.windows() {
                    var at = -1
                    for t in w.taps where at < 0 || xs[t] > xs[at] { at = t }
                    guard at >= 0 else { expected.append(-1); continue }
                    let image = spatial.reduce(1, *), index = unravel(at, k.shape)
                    // Column-major: the first spatial axis varies fastest.
                    let within = columnMajor ? ravel(Array(index[2...].reversed()), Array(spatial.reversed())) : at % image
                    expected.append(Int64(at - at % image + within))
                }
                let got = try runOp(.maxpoolIndices, [x], attributes)
                XCTAssertEqual(got.shape, k.outShape, "\(k)")
                XCTAssertEqual(got.ints, expected, "maxpool_indices \(k) column-major \(columnMajor)")
            }
        }
    }

    /// NaN wins a window (as in maxpool2d); a window entirely in padding is -inf and position -1.
    func testNaNWinsAndAWindowInPaddingIsEmpty() throws {
        var values = [Float](repeating: 1, count: 8)
        values[5] = .nan
        let x = HostTensor(shape: [1, 1, 2, 2, 2], floats: values)
        let attributes: Attributes = ["kernel": .ints([1, 1, 2]), "stride": .ints([1, 1, 2]), "padding": .ints([0, 0, 0, 0, 0, 2])]
        let y = try runOp(.maxpool3d, [x], attributes)
        XCTAssertEqual(y.shape, [1, 1, 2, 2, 2])
        let f = y.floats
        XCTAssertEqual([f[0], f[2], f[6]], [1, 1, 1])
        XCTAssertTrue(f[4].isNaN, "the window of x[4], x[5] = NaN")
        XCTAssertEqual([f[1], f[3], f[5], f[7]], [-.infinity, -.infinity, -.infinity, -.infinity])
        XCTAssertEqual(try runOp(.maxpoolIndices, [x], attributes).ints, [0, -1, 2, -1, 5, -1, 6, -1])
    }

    /// A window of 2^72 taps over a single element, nearly all padding: the taps inside and the
    /// padded count come from each axis's bounds (no loop over the kernel, no Int product).
    func testAHugePaddedWindowOverATinyInput() throws {
        let x = HostTensor(shape: [1, 1, 1, 1, 1], floats: [5])
        let window = [1 << 32, 1 << 20, 1 << 20]
        var attributes: Attributes = ["kernel": .ints(window), "stride": .ints(window), "padding": .ints(window)]
        // Per axis two windows: the first ends just before the element, the second starts on it.
        let empty = [Float](repeating: 0, count: 7)
        XCTAssertEqual(try runOp(.maxpool3d, [x], attributes).floats, [Float](repeating: -.infinity, count: 7) + [5])
        XCTAssertEqual(try runOp(.maxpoolIndices, [x], attributes).ints, [Int64](repeating: -1, count: 7) + [0])
        XCTAssertEqual(try runOp(.avgpool3d, [x], attributes).floats, empty + [5])
        attributes["count_include_pad"] = .bool(true)
        let y = try runOp(.avgpool3d, [x], attributes)
        XCTAssertEqual(y.shape, [1, 1, 2, 2, 2])
        XCTAssertEqual(y.floats, empty + [5 * 0x1p-72])
        let dy = HostTensor(shape: [1, 1, 2, 2, 2], floats: [Float](repeating: 1, count: 8))
        XCTAssertEqual(try runOp(.avgpool3dGrad, [dy, x], attributes).floats, [0x1p-72])
    }
}
