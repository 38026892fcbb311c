import Foundation
import GraphIR
import Runtime
import XCTest
@testable import ONNX

/// ONNX window ops beyond 2-D plain windows: 1-D Conv, ConvTranspose and pooling (run as 2-D
/// over [N, C, 1, W]), 3-D and dilated average pooling, MaxPool's Indices output and
/// ConvTranspose's output_shape and auto_pad, each against loops written from the ONNX
/// definitions.
final class WindowConversionTests: XCTestCase {
    typealias M = ModelMaker

    /// Imports, compiles and runs a model of `nodes` with float inputs; returns every output.
    func run(_ nodes: [Onnx_NodeProto], inputs: [(String, [Int])], feeds: [[Float]], outputs: [String],
             initializers: [Onnx_TensorProto] = [], opset: Int64 = 17) throws -> [String: HostTensor] {
        let m = M.model(nodes: nodes, inputs: inputs.map { M.input($0.0, $0.1.map { Int64($0) }) }, outputs: outputs,
                        initializers: initializers, opset: opset)
        let r = try ImportedRun(model: try M.load(m))
        var f: [String: HostTensor] = [:]
        for (i, (name, shape)) in inputs.enumerated() { f[name] = HostTensor(shape: shape, floats: feeds[i]) }
        return try r.run(f)
    }

    func values(_ n: Int, _ k: Float = 0.37) -> [Float] { (0..<n).map { Float(($0 * 7) % n) * k - Float(n) * k / 3 } }

    func assertClose(_ a: [Float], _ b: [Float], file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y)), file: file, line: line) }
    }

    func string(_ name: String, _ v: String) -> Onnx_AttributeProto {
        var a = Onnx_AttributeProto(); a.name = name; a.type = .string; a.s = Data(v.utf8); return a
    }

    func testConv1dAtOpset11MatchesALoop() throws {
        // x [1, 2, 7], w [3, 2, 3], pads [2, 1], stride 2, dilation 2: (7 + 3 - 5) / 2 + 1 = 3 outputs.
        let x = values(14), w = values(18, 0.11), b: [Float] = [0.5, -1, 2]
        let y = try XCTUnwrap(try run([M.node("Conv", ["x", "w", "b"], ["y"], [M.ints("pads", [2, 1]), M.ints("strides", [2]),
                                                                               M.ints("dilations", [2])])],
                                      inputs: [("x", [1, 2, 7])], feeds: [x], outputs: ["y"],
                                      initializers: [M.tensor("w", [3, 2, 3], w), M.tensor("b", [3], b)], opset: 11)["y"])
        XCTAssertEqual(y.shape, [1, 3, 3])
        var expected: [Float] = []
        for o in 0..<3 { for i in 0..<3 {
            var s = b[o]
            for c in 0..<2 { for k in 0..<3 {
                let p = i * 2 - 2 + k * 2
                if p >= 0, p < 7 { s += x[c * 7 + p] * w[(o * 2 + c) * 3 + k] }
            } }
            expected.append(s)
        } }
        assertClose(y.floats, expected)
    }

    func testPooling1dWithPadsAndCeilMode() throws {
        // x [1, 2, 9], kernel 3, stride 2, pads [1, 0], ceil: (9 + 1 - 3) / 2 = 3.5 -> 5 outputs, the
        // last window overhanging the end.
        let x = values(18)
        let attributes = [M.ints("kernel_shape", [3]), M.ints("strides", [2]), M.ints("pads", [1, 0]), M.int("ceil_mode", 1)]
        let out = try run([M.node("MaxPool", ["x"], ["max"], attributes),
                           M.node("AveragePool", ["x"], ["avg"], attributes + [M.int("count_include_pad", 1)])],
                          inputs: [("x", [1, 2, 9])], feeds: [x], outputs: ["max", "avg"])
        var maxima: [Float] = [], averages: [Float] = []
        for c in 0..<2 { for o in 0..<5 {
            let taps = (0..<3).map { o * 2 - 1 + $0 }
            let inside = taps.filter { $0 >= 0 && $0 < 9 }.map { x[c * 9 + $0] }
            maxima.append(inside.max() ?? -.infinity)
            // count_include_pad counts the begin padding but not the ceil window's overhang.
            averages.append(inside.reduce(0, +) / Float(taps.filter { $0 < 9 }.count))
        } }
        XCTAssertEqual(out["max"]?.shape, [1, 2, 5])
        assertClose(try XCTUnwrap(out["max"]).floats, maxima)
        assertClose(try XCTUnwrap(out["avg"]).floats, averages)
    }

    /// A dilated 2-D average (avgpool3d over a depth-1 volume) and a 3-D one.
    func testDilatedAndThreeDimensionalAveragePools() throws {
        let x = values(2 * 6 * 7)
        let y = try XCTUnwrap(try run([M.node("AveragePool", ["x"], ["y"], [M.ints("kernel_shape", [2, 2]), M.ints("dilations", [2, 3]),
                                                                           M.ints("strides", [1, 2])])],
                                      inputs: [("x", [1, 2, 6, 7])], feeds: [x], outputs: ["y"])["y"])
        // (6 - 3) / 1 + 1 = 4 rows, (7 - 4) / 2 + 1 = 2 columns, every tap inside.
        XCTAssertEqual(y.shape, [1, 2, 4, 2])
        var expected: [Float] = []
        for c in 0..<2 { for i in 0..<4 { for j in 0..<2 {
            var s: Float = 0
            for p in 0..<2 { for q in 0..<2 { s += x[c * 42 + (i + 2 * p) * 7 + j * 2 + 3 * q] } }
            expected.append(s / 4)
        } } }
        assertClose(y.floats, expected)

        let v = values(3 * 4 * 5)
        let z = try XCTUnwrap(try run([M.node("AveragePool", ["v"], ["z"], [M.ints("kernel_shape", [3, 4, 5])])],
                                      inputs: [("v", [1, 1, 3, 4, 5])], feeds: [v], outputs: ["z"])["z"])
        XCTAssertEqual(z.shape, [1, 1, 1, 1, 1])
        assertClose(z.floats, [v.reduce(0, +) / 60])
        let m = try XCTUnwrap(try run([M.node("MaxPool", ["v"], ["m"], [M.ints("kernel_shape", [3, 1, 1])])],
                                      inputs: [("v", [1, 1, 3, 4, 5])], feeds: [v], outputs: ["m"])["m"])
        XCTAssertEqual(m.shape, [1, 1, 1, 4, 5])
        assertClose(m.floats, (0..<20).map { max(v[$0], v[20 + $0], v[40 + $0]) })
    }

    /// MaxPool's second output: flat positions over the whole tensor, row-major or (storage_order
    /// 1) column-major within each image.
    func testMaxPoolIndicesInBothStorageOrders() throws {
        let x = values(2 * 2 * 4 * 5)
        for order in [0, 1] {
            let out = try run([M.node("MaxPool", ["x"], ["y", "i"], [M.ints("kernel_shape", [2, 2]), M.ints("strides", [2, 2]),
                                                                     M.ints("pads", [0, 0, 0, 1]), M.int("storage_order", order)])],
                              inputs: [("x", [2, 2, 4, 5])], feeds: [x], outputs: ["y", "i"])
            let indices = try XCTUnwrap(out["i"])
            XCTAssertEqual(indices.shape, [2, 2, 2, 3])
            var expected: [Int64] = [], maxima: [Float] = []
            for plane in 0..<4 { for i in 0..<2 { for j in 0..<3 {
                var best = -Float.infinity, at = (0, 0)
                for p in 0..<2 { for q in 0..<2 where j * 2 + q < 5 {
                    let v = x[plane * 20 + (i * 2 + p) * 5 + j * 2 + q]
                    if v > best { best = v; at = (i * 2 + p, j * 2 + q) }
                } }
                maxima.append(best)
                expected.append(Int64(plane * 20 + (order == 0 ? at.0 * 5 + at.1 : at.0 + at.1 * 4)))
            } } }
            XCTAssertEqual(indices.ints, expected, "storage_order \(order)")
            assertClose(try XCTUnwrap(out["y"]).floats, maxima)
        }
    }

    /// y[o, s*i - begin + k*d] += x[c, i] w[c, o, k] along each axis.
    func transposedConvolution(_ x: [Float], _ w: [Float], inShape: [Int], outChannels: Int, kernel: [Int], stride: [Int],
                               begin: [Int], outShape: [Int]) -> [Float] {
        let cin = inShape[0]
        let (ih, iw) = inShape.count == 3 ? (inShape[1], inShape[2]) : (1, inShape[1])
        let (kh, kw) = kernel.count == 2 ? (kernel[0], kernel[1]) : (1, kernel[0])
        let (sh, sw) = stride.count == 2 ? (stride[0], stride[1]) : (1, stride[0])
        let (bh, bw) = begin.count == 2 ? (begin[0], begin[1]) : (0, begin[0])
        let (oh, ow) = outShape.count == 2 ? (outShape[0], outShape[1]) : (1, outShape[0])
        var y = [Float](repeating: 0, count: outChannels * oh * ow)
        for c in 0..<cin { for i in 0..<ih { for j in 0..<iw { for o in 0..<outChannels { for p in 0..<kh { for q in 0..<kw {
            let r = sh * i - bh + p, s = sw * j - bw + q
            guard r >= 0, r < oh, s >= 0, s < ow else { continue }
            y[(o * oh + r) * ow + s] += x[(c * ih + i) * iw + j] * w[((c * outChannels + o) * kh + p) * kw + q]
        } } } } } }
        return y
    }

    func testConvTranspose1d() throws {
        let x = values(2 * 5), w = values(2 * 3 * 3, 0.13)
        let y = try XCTUnwrap(try run([M.node("ConvTranspose", ["x", "w"], ["y"], [M.ints("strides", [2]), M.ints("pads", [1, 0]),
                                                                                   M.ints("output_padding", [1])])],
                                      inputs: [("x", [1, 2, 5])], feeds: [x], outputs: ["y"],
                                      initializers: [M.tensor("w", [2, 3, 3], w)])["y"])
        // (5 - 1) * 2 - 1 + 3 + 1 = 11.
        XCTAssertEqual(y.shape, [1, 3, 11])
        assertClose(y.floats, transposedConvolution(x, w, inShape: [2, 5], outChannels: 3, kernel: [3], stride: [2], begin: [1],
                                                    outShape: [11]))
    }

    /// 3-D: 2-D transposed convolutions per kernel depth, placed along the depth.
    func testConvTranspose3dWithPaddingDilationAndOutputPadding() throws {
        let (cin, cout, d, h, w) = (2, 2, 3, 4, 3), (kd, kh, kw) = (2, 3, 2)
        let stride = [2, 1, 2], pads = [1, 0, 0, 0, 1, 1], dilation = [1, 2, 1], extra = [1, 0, 1]
        let x = values(cin * d * h * w), wt = values(cin * cout * kd * kh * kw, 0.07), b: [Float] = [0.25, -0.5]
        let y = try XCTUnwrap(try run([M.node("ConvTranspose", ["x", "w", "b"], ["y"], [M.ints("strides", stride), M.ints("pads", pads),
                                                                                        M.ints("dilations", dilation),
                                                                                        M.ints("output_padding", extra)])],
                                      inputs: [("x", [1, cin, d, h, w])], feeds: [x], outputs: ["y"],
                                      initializers: [M.tensor("w", [cin, cout, kd, kh, kw], wt), M.tensor("b", [cout], b)])["y"])
        let inSizes = [d, h, w], kernel = [kd, kh, kw]
        let out: [Int] = (0..<3).map { a in
            let reach: Int = (inSizes[a] - 1) * stride[a] + dilation[a] * (kernel[a] - 1) + 1
            return reach - pads[a] - pads[a + 3] + extra[a]
        }
        XCTAssertEqual(y.shape, [1, cout] + out)
        var expected = [Float](repeating: 0, count: cout * out.reduce(1, *))
        for o in 0..<cout { for i in 0..<out.reduce(1, *) { expected[o * out.reduce(1, *) + i] = b[o] } }
        for c in 0..<cin { for i in 0..<d { for j in 0..<h { for l in 0..<w { for o in 0..<cout {
            for p in 0..<kd { for q in 0..<kh { for r in 0..<kw {
                let od = i * stride[0] - pads[0] + p * dilation[0], oh = j * stride[1] - pads[1] + q * dilation[1]
                let ow = l * stride[2] - pads[2] + r * dilation[2]
                guard od >= 0, od < out[0], oh >= 0, oh < out[1], ow >= 0, ow < out[2] else { continue }
                let yi: Int = ((o * out[0] + od) * out[1] + oh) * out[2] + ow
                let xi: Int = ((c * d + i) * h + j) * w + l
                let wi: Int = (((c * cout + o) * kd + p) * kh + q) * kw + r
                expected[yi] += x[xi] * wt[wi]
            } } }
        } } } } }
        assertClose(y.floats, expected)
    }

    /// output_shape sets the padding (here one longer than the window reaches: output
    /// padding), and SAME_UPPER asks for in * stride with the odd padding at the end.
    func testConvTransposeOutputShapeAndSamePadding() throws {
        let x = values(9), w = values(2 * 9, 0.21)
        let weight = M.tensor("w", [1, 2, 3, 3], w)
        let shaped = try XCTUnwrap(try run([M.node("ConvTranspose", ["x", "w"], ["y"], [M.ints("strides", [3, 2]),
                                                                                        M.ints("output_shape", [10, 8])])],
                                           inputs: [("x", [1, 1, 3, 3])], feeds: [x], outputs: ["y"], initializers: [weight])["y"])
        XCTAssertEqual(shaped.shape, [1, 2, 10, 8])
        assertClose(shaped.floats, transposedConvolution(x, w, inShape: [1, 3, 3], outChannels: 2, kernel: [3, 3], stride: [3, 2],
                                                         begin: [0, 0], outShape: [10, 8]))
        for (mode, begin) in [("SAME_UPPER", 0), ("SAME_LOWER", 1)] {
            let same = try XCTUnwrap(try run([M.node("ConvTranspose", ["x", "w"], ["y"], [M.ints("strides", [2, 2]), string("auto_pad", mode)])],
                                             inputs: [("x", [1, 1, 3, 3])], feeds: [x], outputs: ["y"], initializers: [weight])["y"])
            // Total padding (3 - 1) * 2 + 3 - 6 = 1.
            XCTAssertEqual(same.shape, [1, 2, 6, 6])
            assertClose(same.floats, transposedConvolution(x, w, inShape: [1, 3, 3], outChannels: 2, kernel: [3, 3], stride: [2, 2],
                                                           begin: [begin, begin], outShape: [6, 6]))
        }
    }

    func testUnsupportedWindowsAreNamedErrors() {
        func expectError(_ node: Onnx_NodeProto, _ shape: [Int64], _ fragment: String, initializers: [Onnx_TensorProto] = [],
                         file: StaticString = #filePath, line: UInt = #line) {
            let m = M.model(nodes: [node], inputs: [M.input("x", shape)], outputs: ["y"], initializers: initializers)
            XCTAssertThrowsError(try M.load(m), file: file, line: line) { e in
                let text = String(describing: e)
                XCTAssertTrue(text.contains(fragment), text, file: file, line: line)
            }
        }
        expectError(M.node("MaxPool", ["x"], ["y"], name: "p", [M.ints("kernel_shape", [2, 2, 2, 2])]), [1, 1, 4, 4, 4, 4],
                    "node \"p\" (MaxPool): graphc runs windows over 1 to 3 spatial axes")
        expectError(M.node("AveragePool", ["x"], ["y"], [M.ints("kernel_shape", [2, 2])]), [1, 1, 4, 4, 4],
                    "kernel_shape must give 3 positive sizes")
        expectError(M.node("MaxPool", ["x"], ["y"], [M.ints("kernel_shape", [2]), M.ints("pads", [1, 1, 1, 1])]), [1, 1, 4],
                    "pads [1, 1, 1, 1] must have 2 entries")
        expectError(M.node("MaxPool", ["x"], ["y"], [M.ints("kernel_shape", [2, 2]), M.int("storage_order", 2)]), [1, 1, 4, 4],
                    "storage_order 2 must be 0")
        expectError(M.node("ConvTranspose", ["x", "w"], ["y"], [M.ints("output_shape", [7, 7, 7])]), [1, 1, 3, 3],
                    "output_shape [7, 7, 7] must give 2 spatial sizes", initializers: [M.tensor("w", [1, 1, 3, 3], values(9))])
        // An output longer than the window reaches at both ends would need output before the first window.
        expectError(M.node("ConvTranspose", ["x", "w"], ["y"], [M.ints("output_shape", [9, 9])]), [1, 1, 3, 3],
                    "output size 9 on spatial axis 0", initializers: [M.tensor("w", [1, 1, 3, 3], values(9))])
    }
}
