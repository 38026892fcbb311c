import Foundation
import GraphIR
import Runtime
import XCTest

/// pad, gather, lrn and conv_transpose2d (and their gradient ops) against naive references
/// that accumulate in Double.
final class KernelONNXOpsTests: XCTestCase {
    let data = TestData(seed: 43)

    /// numpy.pad's rule, written as repeated mirroring rather than PadMode's modular arithmetic.
    func source(_ o: Int, size: Int, begin: Int, mode: String) -> Int? {
        var i = o - begin
        if i >= 0 && i < size { return i }
        switch mode {
        case "edge": return min(max(i, 0), size - 1)
        case "reflect":
            while i < 0 || i >= size { i = i < 0 ? -i : 2 * (size - 1) - i }
            return i
        case "wrap":
            while i < 0 { i += size }
            while i >= size { i -= size }
            return i
        default: return nil
        }
    }

    func testPadEveryModeAndItsGradient() throws {
        let cases: [(shape: [Int], pads: [Int], mode: String)] = [
            ([2, 3, 4], [0, 1, 2, 1, 0, 3], "constant"),
            ([2, 3, 4], [0, 2, 3, 0, 1, 3], "reflect"),
            ([3, 5], [2, 1, 4, 3], "edge"),
            ([1, 2, 4, 5], [0, 0, 1, 2, 0, 0, 1, 2], "reflect"),     // a conv's spatial reflection padding
            ([4, 6], [-1, 2, 0, -3], "constant"),                    // negative pads crop
            ([7], [3, 2], "edge"),
            ([2, 3, 4], [0, 1, 2, 1, 4, 3], "wrap"),
            ([3, 2], [7, -1, 1, 5], "wrap"),                         // more than a period, and a crop
        ]
        for k in cases {
            let x = data.floats(k.shape)
            let rank = k.shape.count
            let outShape = (0..<rank).map { k.shape[$0] + k.pads[$0] + k.pads[rank + $0] }
            let attrs: Attributes = ["pads": .ints(k.pads), "mode": .string(k.mode), "pad_value": .float(1.5)]
            let dy = data.floats(outShape)
            var y = [Double](), dx = [Double](repeating: 0, count: x.count)
            for flat in 0..<outShape.reduce(1, *) {
                let o = unravel(flat, outShape)
                let src = (0..<rank).map { source(o[$0], size: k.shape[$0], begin: k.pads[$0], mode: k.mode) }
                if src.contains(where: { $0 == nil }) { y.append(1.5); continue }
                let xi = ravel(src.map { $0! }, k.shape)
                y.append(Double(x.floats[xi]))
                dx[xi] += Double(dy.floats[flat])
            }
            assertClose(try runOp(.pad, [x], attrs), y, shape: outShape, "pad \(k)")
            assertClose(try runOp(.padGrad, [dy, x], attrs), dx, shape: k.shape, "pad_grad \(k)")
        }
    }

    /// ONNX's integer tensors (and bools as 0/1) pad as i64, every mode; the fill is rounded.
    func testPadOfIntegers() throws {
        let x = HostTensor(shape: [2, 3], ints: [1, -2, 3, 40, 5, -6])
        for mode in ["constant", "reflect", "edge", "wrap"] {
            let pads = [1, 2, 0, 1]
            let y = try runOp(.pad, [x], ["pads": .ints(pads), "mode": .string(mode), "pad_value": .float(-7.8)])
            XCTAssertEqual(y.dtype, .i64)
            XCTAssertEqual(y.shape, [3, 6])
            var expected: [Int64] = []
            for r in 0..<3 { for col in 0..<6 {
                if let i = source(r, size: 2, begin: 1, mode: mode), let j = source(col, size: 3, begin: 2, mode: mode) {
                    expected.append(x.ints[i * 3 + j])
                } else { expected.append(-7) }
            } }
            XCTAssertEqual(y.ints, expected, mode)
        }
    }

    func testGatherAlongEachAxisAndItsGradient() throws {
        let x = data.floats([3, 4, 5])
        for axis in [0, 1, 2, -1] {
            let a = axis < 0 ? axis + 3 : axis
            let indices = HostTensor(shape: [2, 3], ints: [0, 2, 2, 1, 0, 2].map { Int64(min($0, x.shape[a] - 1)) })
            var outShape = x.shape
            outShape.replaceSubrange(a...a, with: indices.shape)
            let dy = data.floats(outShape)
            var y = [Double](), dx = [Double](repeating: 0, count: x.count)
            for flat in 0..<outShape.reduce(1, *) {
                let o = unravel(flat, outShape)
                let picked = Int(indices.ints[ravel(Array(o[a..<(a + 2)]), indices.shape)])
                let xi = ravel(Array(o[..<a]) + [picked] + Array(o[(a + 2)...]), x.shape)
                y.append(Double(x.floats[xi]))
                dx[xi] += Double(dy.floats[flat])
            }
            assertClose(try runOp(.gather, [x, indices], ["axis": .int(axis)]), y, shape: outShape, "gather axis \(axis)")
            assertClose(try runOp(.gatherGrad, [dy, indices, x], ["axis": .int(axis)]), dx, shape: x.shape, "gather_grad axis \(axis)")
        }
    }

    func testGatherRejectsIndicesOutsideTheAxis() throws {
        let x = data.floats([3, 4])
        let indices = HostTensor(shape: [2], ints: [1, 4])
        XCTAssertThrowsError(try runOp(.gather, [x, indices], ["axis": .int(1)])) { e in
            let message = String(describing: e)
            XCTAssertTrue(message.contains("holds index 4 at [1]") && message.contains("valid indices are 0..<4"), message)
        }
        XCTAssertThrowsError(try runOp(.gather, [x, HostTensor(shape: [1], ints: [-1])], ["axis": .int(0)]))
    }

    func testLRNAndItsGradient() throws {
        for (shape, size) in [([2, 5, 3, 2], 3), ([1, 6, 4, 4], 4), ([2, 3, 5], 5), ([1, 4, 2, 2], 1)] {
            let x = data.floats(shape)
            let (alpha, beta, bias) = (0.3, 0.75, 1.5)
            let attrs: Attributes = ["size": .int(size), "alpha": .float(alpha), "beta": .float(beta), "bias": .float(bias)]
            let channels = shape[1]
            let before = (size - 1) / 2, after = size - 1 - before
            // s at every element, from its channel window.
            func s(_ flat: Int) -> Double {
                var idx = unravel(flat, shape)
                let c = idx[1]
                var sum = 0.0
                for j in max(0, c - before)...min(channels - 1, c + after) {
                    idx[1] = j
                    let v = Double(x.floats[ravel(idx, shape)])
                    sum += v * v
                }
                return bias + alpha / Double(size) * sum
            }
            let y = (0..<x.count).map { Double(x.floats[$0]) * Foundation.pow(s($0), -beta) }
            assertClose(try runOp(.lrn, [x], attrs), y, shape: shape, "lrn \(shape) size \(size)")
            // The gradient by the chain rule, element by element: dx_i = Σ_j dy_j ∂y_j/∂x_i.
            let dy = data.floats(shape)
            var dx = [Double](repeating: 0, count: x.count)
            for j in 0..<x.count {
                let sj = s(j), xj = Double(x.floats[j]), g = Double(dy.floats[j])
                dx[j] += g * Foundation.pow(sj, -beta)
                var idx = unravel(j, shape)
                let c = idx[1]
                for ic in max(0, c - before)...min(channels - 1, c + after) {
                    idx[1] = ic
                    let i = ravel(idx, shape)
                    dx[i] += g * xj * -beta * Foundation.pow(sj, -beta - 1) * alpha / Double(size) * 2 * Double(x.floats[i])
                }
            }
            assertClose(try runOp(.lrnGrad, [dy, x], attrs), dx, shape: shape, "lrn_grad \(shape) size \(size)")
        }
    }

    func testConvTransposeAgainstScatteredProducts() throws {
        let cases: [(n: Int, cin: Int, h: Int, w: Int, cout: Int, k: [Int], stride: [Int], pads: [Int], dilation: [Int], groups: Int, extra: [Int])] = [
            (2, 3, 4, 5, 2, [3, 3], [2, 2], [1, 1, 1, 1], [1, 1], 1, [1, 1]),   // a decoder's upsampling layer
            (1, 4, 3, 3, 6, [2, 3], [1, 2], [0, 1, 1, 0], [2, 1], 2, [0, 1]),
            (2, 2, 5, 4, 2, [1, 1], [1, 1], [0, 0, 0, 0], [1, 1], 1, [0, 0]),   // 1x1: one product per pixel
            (1, 4, 4, 4, 4, [4, 4], [2, 2], [1, 1, 1, 1], [1, 1], 4, [0, 0]),   // depthwise
        ]
        for k in cases {
            let x = data.floats([k.n, k.cin, k.h, k.w])
            let cg = k.cout / k.groups, ig = k.cin / k.groups
            let w = data.floats([k.cin, cg, k.k[0], k.k[1]]), b = data.floats([k.cout])
            let oh = (k.h - 1) * k.stride[0] - k.pads[0] - k.pads[2] + k.dilation[0] * (k.k[0] - 1) + k.extra[0] + 1
            let ow = (k.w - 1) * k.stride[1] - k.pads[1] - k.pads[3] + k.dilation[1] * (k.k[1] - 1) + k.extra[1] + 1
            let outShape = [k.n, k.cout, oh, ow]
            var y = (0..<outShape.reduce(1, *)).map { Double(b.floats[unravel($0, outShape)[1]]) }
            for n in 0..<k.n { for ic in 0..<k.cin { for i in 0..<k.h { for j in 0..<k.w {
                let group = ic / ig
                for oc in 0..<cg { for ki in 0..<k.k[0] { for kj in 0..<k.k[1] {
                    let p = i * k.stride[0] - k.pads[0] + ki * k.dilation[0], q = j * k.stride[1] - k.pads[1] + kj * k.dilation[1]
                    guard p >= 0, p < oh, q >= 0, q < ow else { continue }
                    y[ravel([n, group * cg + oc, p, q], outShape)] += Double(x.floats[ravel([n, ic, i, j], x.shape)])
                        * Double(w.floats[ravel([ic, oc, ki, kj], w.shape)])
                } } }
            } } } }
            let attrs: Attributes = ["stride": .ints(k.stride), "padding": .ints(k.pads), "dilation": .ints(k.dilation),
                                     "groups": .int(k.groups), "output_padding": .ints(k.extra)]
            assertClose(try runOp(.convTranspose2d, [x, w, b], attrs), y, shape: outShape, "conv_transpose2d \(k)")
        }
    }

    func testReduceMaxAndMinWithTiesAndTheirGradient() throws {
        // Values in steps of 0.5 from a small range: many ties to share the gradient.
        let x = HostTensor(shape: [3, 4, 2], floats: (0..<24).map { Float(($0 * 7) % 5) * 0.5 - 1 })
        for (axes, keep) in [([1], true), ([0, 2], false), ([-1], false), ([0, 1, 2], true)] {
            let rank = 3
            let reduced = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
            let keptShape = (0..<rank).map { reduced.contains($0) ? 1 : x.shape[$0] }
            let outShape = keep ? keptShape : (0..<rank).filter { !reduced.contains($0) }.map { x.shape[$0] }
            let attrs: Attributes = ["axes": .ints(axes), "keepdims": .bool(keep)]
            for (op, pick) in [(OpDef.reduceMax, { (a: Double, b: Double) in Swift.max(a, b) }), (.reduceMin, { Swift.min($0, $1) })] {
                var y = [Double?](repeating: nil, count: keptShape.reduce(1, *))
                func slot(_ i: Int) -> Int {
                    var idx = unravel(i, x.shape)
                    for a in reduced { idx[a] = 0 }
                    return ravel(idx, keptShape)
                }
                for i in 0..<x.count { y[slot(i)] = y[slot(i)].map { pick($0, Double(x.floats[i])) } ?? Double(x.floats[i]) }
                let result = try runOp(op, [x], attrs)
                assertClose(result, y.map { $0! }, shape: outShape, "\(op.name) \(axes)")
                let dy = data.floats(outShape)
                var ties = [Double](repeating: 0, count: y.count)
                for i in 0..<x.count where Double(x.floats[i]) == y[slot(i)]! { ties[slot(i)] += 1 }
                let dx = (0..<x.count).map { i in Double(x.floats[i]) == y[slot(i)]! ? Double(dy.floats[slot(i)]) / ties[slot(i)] : 0 }
                assertClose(try runOp(.reduceExtremumGrad, [dy, x, result], attrs), dx, shape: x.shape, "\(op.name) grad \(axes)")
            }
        }
    }

    /// Bools (as i64 0/1) and integers: max is any, min is all; an empty reduction gives 0.
    func testReduceMaxAndMinOfIntegers() throws {
        let x = HostTensor(shape: [4, 2], ints: [1, 1, 1, 0, 0, 1, 0, 0])
        let any = try runOp(.reduceMax, [x], ["axes": .ints([1]), "keepdims": .bool(true)])
        XCTAssertEqual(any.dtype, .i64)
        XCTAssertEqual(any.shape, [4, 1])
        XCTAssertEqual(any.ints, [1, 1, 1, 0])
        XCTAssertEqual(try runOp(.reduceMin, [x], ["axes": .ints([1])]).ints, [1, 0, 0, 0])
        let big = HostTensor(shape: [3], ints: [Int64.max, -5, Int64.min])
        XCTAssertEqual(try runOp(.reduceMax, [big], ["axes": .ints([0])]).ints, [Int64.max])
        XCTAssertEqual(try runOp(.reduceMin, [big], ["axes": .ints([0])]).ints, [Int64.min])
        let empty = HostTensor(shape: [2, 0, 3], ints: [])
        let y = try runOp(.reduceMax, [empty], ["axes": .ints([1]), "keepdims": .bool(true)])
        XCTAssertEqual(y.shape, [2, 1, 3])
        XCTAssertEqual(y.ints, [0, 0, 0, 0, 0, 0])
    }

    func testReduceMaxPropagatesNaN() throws {
        let x = HostTensor(shape: [2, 3], floats: [1, .nan, 3, -1, -2, -3])
        let y = try runOp(.reduceMax, [x], ["axes": .ints([1])]).floats
        XCTAssertTrue(y[0].isNaN)
        XCTAssertEqual(y[1], -1)
        XCTAssertTrue(try runOp(.reduceMin, [x], ["axes": .ints([0, 1])]).floats[0].isNaN)
    }

    /// ShuffleNet's channel shuffle is reshape + a rank-5 transpose + reshape: output channel
    /// i * groups + j is input channel j * (C / groups) + i.
    func testChannelShuffleAsReshapeAndTranspose() throws {
        let (n, c, groups, h, w) = (2, 6, 3, 2, 3)
        let x = data.floats([n, c, h, w])
        let b = GraphBuilder(name: "shuffle")
        let input = b.input("x", .f32(Shape(known: x.shape)))
        let split = try b.emit(.reshape, [input], ["shape": .shape(Shape(known: [n, groups, c / groups, h, w]))])
        let swapped = try b.emit(.transpose, [split], ["perm": .ints([0, 2, 1, 3, 4])])
        b.outputs = [("y", try b.emit(.reshape, [swapped], ["shape": .shape(Shape(known: [n, c, h, w]))]))]
        let y = try Executor(graph: b.finish(), options: ExecutionOptions()).run(feeds: ["x": x], parameters: ParameterStore())["y"]
        let expected = (0..<x.count).map { flat -> Double in
            var idx = unravel(flat, x.shape)
            let (i, j) = (idx[1] / groups, idx[1] % groups)
            idx[1] = j * (c / groups) + i
            return Double(x.floats[ravel(idx, x.shape)])
        }
        assertClose(try XCTUnwrap(y), expected, shape: x.shape, "channel shuffle")
    }

    /// ONNX Clip with one bound is clamp with the other at infinity, which the IR text keeps.
    func testClampWithAnInfiniteBound() throws {
        let x = HostTensor(shape: [4], floats: [-2, 0.5, 3, 7])
        XCTAssertEqual(try runOp(.clamp, [x], ["min": .float(0), "max": .float(.infinity)]).floats, [0, 0.5, 3, 7])
        XCTAssertEqual(try runOp(.clamp, [x], ["min": .float(-.infinity), "max": .float(1)]).floats, [-2, 0.5, 1, 1])
        let b = GraphBuilder(name: "clip")
        b.outputs = [("y", try b.emit(.clamp, [b.input("x", .f32([4]))], ["min": .float(0), "max": .float(.infinity)]))]
        let text = IRPrinter.print(b.finish())
        XCTAssertEqual(IRPrinter.print(try IRParser.parse(text, file: "clip.gir")), text)
    }
}
