import GraphIR
import Passes
@testable import Runtime
import XCTest

/// `fused_conv2d_maxpool` and `recomputed_pooled_conv2d_grad_weight` (CConvKernels/
/// pooled_grad_weight.c) against naive references in Double, on every ISA and thread count;
/// and the `recompute-pooled-convolutions` rewrite's whole backward against the unrewritten one
/// and central differences.
final class KernelRecomputedPooledConvTests: XCTestCase {
    let data = TestData(seed: 131)

    /// Values whose products and sums are exact in float (small integers, eighths), so the
    /// kernels' pre-pool values equal the reference's bit for bit and ties (many) route alike;
    /// with `nans`, a few NaNs.
    func exact(_ shape: [Int], scale: Float, nans: Bool = false) -> HostTensor {
        let u = data.floats(shape, in: 0...1).floats, v = data.floats(shape, in: -4...4).floats
        return HostTensor(shape: shape, floats: zip(u, v).map { r, x in nans && r < 0.01 ? .nan : x.rounded() * scale })
    }

    /// activation(conv2d(x, w) + b) at every position, stride 1, top/left padding `pad`, in Double.
    func convolution(x: HostTensor, w: HostTensor, b: HostTensor?, pad: Int, relu: Bool) -> (values: [Double], h: Int, w: Int) {
        let (n, c, ih, iw) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), o = w.shape[0]
        let h = ih + 2 * pad - 2, wd = iw + 2 * pad - 2
        var y = [Double](repeating: 0, count: n * o * h * wd)
        for img in 0..<n { for oc in 0..<o { for r in 0..<h { for q in 0..<wd {
            var s = b.map { Double($0.floats[oc]) } ?? 0
            for ic in 0..<c { for ky in 0..<3 { for kx in 0..<3 {
                let xr = r - pad + ky, xc = q - pad + kx
                guard xr >= 0, xr < ih, xc >= 0, xc < iw else { continue }
                s += Double(x.floats[((img * c + ic) * ih + xr) * iw + xc]) * Double(w.floats[((oc * c + ic) * 3 + ky) * 3 + kx])
            } } }
            y[((img * o + oc) * h + r) * wd + q] = relu && !(s > 0) && !s.isNaN ? 0 : s
        } } } }
        return (y, h, wd)
    }

    /// The 2x2 max pooling's window position that maxpool2d_grad routes to: the first NaN, else
    /// the first maximum; nil when relu and the maximum is not above 0.
    func argmax(_ y: [Double], plane: Int, h: Int, w: Int, i: Int, j: Int, relu: Bool) -> Int? {
        var at = -1
        scan: for di in 0..<2 { for dj in 0..<2 {
            let idx = (plane * h + 2 * i + di) * w + 2 * j + dj
            if y[idx].isNaN { at = idx; break scan }
            if at < 0 || y[idx] > y[at] { at = idx }
        } }
        return !relu || y[at] > 0 ? at : nil
    }

    func attributes(pad: Int, relu: Bool) -> Attributes {
        var a: Attributes = ["stride": .ints([1, 1]), "padding": .ints([pad, pad])]
        if relu { a["activation"] = .string("relu") }
        return a
    }

    // (images, in channels, out channels, input height, width, padding): 1-4 input channels,
    // pooled rows shorter than the 16 lanes, exactly 16, longer (a partial second block).
    let cases = [(3, 1, 5, 8, 8, 1), (2, 3, 4, 10, 12, 0), (2, 2, 3, 34, 38, 1), (1, 4, 2, 6, 30, 2), (2, 1, 17, 28, 28, 1)]

    func testForwardIsThePooledConvolutionOnEveryISA() throws {
        for (n, c, o, ih, iw, p) in cases {
            let x = exact([n, c, ih, iw], scale: 1, nans: true), w = exact([o, c, 3, 3], scale: 0.125), b = exact([o], scale: 0.125)
            for relu in [false, true] {
                for bias in [true, false] {
                    let (y, h, wd) = convolution(x: x, w: w, b: bias ? b : nil, pad: p, relu: relu)
                    var want: [Double] = []
                    for plane in 0..<(n * o) { for i in 0..<(h / 2) { for j in 0..<(wd / 2) {
                        let window = [0, 1, wd, wd + 1].map { y[(plane * h + 2 * i) * wd + 2 * j + $0] }
                        want.append(window.contains { $0.isNaN } ? .nan : window.max()!)
                    } } }
                    try onEveryISA { isa in
                        var first: [UInt32]?
                        for threads in 1...3 {
                            let got = try runOp(.fusedConv2dMaxpool, bias ? [x, w, b] : [x, w], attributes(pad: p, relu: relu), threads: threads)
                            XCTAssertEqual(got.shape, [n, o, h / 2, wd / 2])
                            for (g, r) in zip(got.floats, want) {
                                if r.isNaN { XCTAssertTrue(g.isNaN) } else { XCTAssertEqual(Double(g), r, "\(n)x\(c)x\(ih)x\(iw) -> \(o), p \(p), relu \(relu), bias \(bias), \(isa)") }
                            }
                            let bits = got.floats.map(\.bitPattern)
                            if let first { XCTAssertEqual(bits, first, "\(threads) threads, \(isa)") } else { first = bits }
                        }
                    }
                }
            }
        }
    }

    /// Random (inexact) values: the pooled convolution within float rounding.
    func testForwardWithinRoundingOfRandomValues() throws {
        let x = data.floats([2, 1, 28, 28]), w = data.floats([16, 1, 3, 3]), b = data.floats([16])
        let (y, h, wd) = convolution(x: x, w: w, b: b, pad: 1, relu: true)
        var want: [Double] = []
        for plane in 0..<32 { for i in 0..<14 { for j in 0..<14 {
            want.append([0, 1, wd, wd + 1].map { y[(plane * h + 2 * i) * wd + 2 * j + $0] }.max()!)
        } } }
        assertClose(try runOp(.fusedConv2dMaxpool, [x, w, b], attributes(pad: 1, relu: true)), want, shape: [2, 16, 14, 14])
    }

    func testWeightGradientRecomputesTheWindowsOnEveryISA() throws {
        for (n, c, o, ih, iw, p) in cases {
            let x = exact([n, c, ih, iw], scale: 1, nans: n == 3), w = exact([o, c, 3, 3], scale: 0.125), b = exact([o], scale: 0.125)
            for relu in [false, true] {
                let (y, h, wd) = convolution(x: x, w: w, b: b, pad: p, relu: relu)
                let dp = data.floats([n, o, h / 2, wd / 2])
                // The full-resolution gradient, then conv2d_grad_weight's dense sums (a 0 times a
                // NaN input is NaN there too).
                var dy = [Double](repeating: 0, count: y.count)
                for plane in 0..<(n * o) { for i in 0..<(h / 2) { for j in 0..<(wd / 2) {
                    guard let at = argmax(y, plane: plane, h: h, w: wd, i: i, j: j, relu: relu) else { continue }
                    dy[at] = Double(dp.floats[(plane * (h / 2) + i) * (wd / 2) + j])
                } } }
                var want = [Double](repeating: 0, count: o * c * 9)
                for img in 0..<n { for oc in 0..<o { for ic in 0..<c { for ky in 0..<3 { for kx in 0..<3 {
                    for r in 0..<h { for q in 0..<wd {
                        let xr = r - p + ky, xc = q - p + kx
                        guard xr >= 0, xr < ih, xc >= 0, xc < iw else { continue }
                        want[((oc * c + ic) * 3 + ky) * 3 + kx] += dy[((img * o + oc) * h + r) * wd + q] * Double(x.floats[((img * c + ic) * ih + xr) * iw + xc])
                    } }
                } } } } }
                let scale = want.filter { !$0.isNaN }.map(abs).max() ?? 1
                try onEveryISA { isa in
                    var first: [UInt32]?
                    for threads in 1...3 {
                        let got = try runOp(.recomputedPooledConv2dGradWeight, [dp, x, w, b], attributes(pad: p, relu: relu), threads: threads)
                        XCTAssertEqual(got.shape, [o, c, 3, 3])
                        for (g, r) in zip(got.floats, want) {
                            if r.isNaN { XCTAssertTrue(g.isNaN) } else {
                                XCTAssertEqual(Double(g), r, accuracy: 1e-5 * max(1, scale), "\(n)x\(c)x\(ih)x\(iw) -> \(o), p \(p), relu \(relu), \(isa)")
                            }
                        }
                        let bits = got.floats.map(\.bitPattern)
                        if let first { XCTAssertEqual(bits, first, "\(threads) threads, \(isa)") } else { first = bits }
                    }
                }
            }
        }
    }

    func testShapeRulesRefuseWhatTheKernelsDoNotTake() {
        let b = GraphBuilder(name: "g")
        let x = b.input("x", .f32([2, 1, 6, 6])), dp = b.input("dp", .f32([2, 4, 3, 3])), bias = b.parameter("b", .f32([4]), initializer: ["init": .string("zeros")])
        let w = b.parameter("w", .f32([4, 1, 3, 3]), initializer: ["init": .string("zeros")])
        let w5 = b.parameter("w5", .f32([4, 1, 5, 5]), initializer: ["init": .string("zeros")])
        let x8 = b.input("x8", .f32([2, 8, 6, 6])), w8 = b.parameter("w8", .f32([4, 8, 3, 3]), initializer: ["init": .string("zeros")])
        let xOdd = b.input("xOdd", .f32([2, 1, 7, 7])), badBias = b.parameter("bb", .f32([3]), initializer: ["init": .string("zeros")])
        let a: Attributes = ["stride": .ints([1, 1]), "padding": .ints([1, 1])]
        XCTAssertEqual(b.type(of: try b.emit(.fusedConv2dMaxpool, [x, w, bias], a)), .f32([2, 4, 3, 3]))
        XCTAssertEqual(b.type(of: try b.emit(.recomputedPooledConv2dGradWeight, [dp, x, w, bias], a)), .f32([4, 1, 3, 3]))
        XCTAssertThrowsError(try b.emit(.fusedConv2dMaxpool, [x, w5], ["stride": .ints([1, 1]), "padding": .ints([2, 2])]), "5x5")
        XCTAssertThrowsError(try b.emit(.fusedConv2dMaxpool, [x8, w8], a), "8 input channels")
        XCTAssertThrowsError(try b.emit(.fusedConv2dMaxpool, [xOdd, w], a), "odd sides")
        XCTAssertThrowsError(try b.emit(.fusedConv2dMaxpool, [x, w, badBias], a), "bias")
        XCTAssertThrowsError(try b.emit(.fusedConv2dMaxpool, [x, w], ["stride": .ints([2, 2]), "padding": .ints([1, 1])]), "stride")
        XCTAssertThrowsError(try b.emit(.recomputedPooledConv2dGradWeight, [x, x, w], a), "pooled gradient shape")
        XCTAssertThrowsError(try b.emit(.fusedConv2dMaxpool, [x, w], ["stride": .ints([1, 1]), "padding": .ints([1, 1]), "activation": .string("tanh")]))
    }

    /// conv + bias, relu, 2x2 pooling, then a second layer, differentiated and compiled with the
    /// optimisations: the rewritten step's outputs and every gradient match the step without
    /// the rewrite within rounding (and the weight gradient Autodiff's, which the central
    /// differences check); its bits do not depend on the thread count.
    func testRewrittenStepMatchesTheUnfusedStep() throws {
        for channels in [1, 3] {
            let c = GradientCheckGraph("recompute-\(channels)", seed: 17)
            let x = c.input("x", .f32([4, channels, 10, 10]))
            let w = c.param("w", [6, channels, 3, 3]), bias = c.param("b", [6])
            let conv = try c.emit(.conv2d, [x, w, bias], ["stride": .ints([1, 1]), "padding": .ints([1, 1])])
            let pooled = try c.maxpool(try c.relu(conv), 2)
            let w2 = c.param("w2", [2, 6, 3, 3])
            try c.finishWithWeightedSum(try c.emit(.conv2d, [pooled, w2], ["stride": .ints([1, 1]), "padding": .ints([0, 0])]))
            let analytic = try checkGradients(c, maxPerParameter: 16)
            let differentiated = try Autodiff.differentiate(c.graph)
            func compile(_ disabled: Set<FusionKind>) throws -> Graph {
                var options = PassOptions(verifyEach: true)
                options.disabledFusions = disabled
                return try Pipeline(Pipelines.optimisations).run(differentiated, PassContext(options: options))
            }
            let rewritten = try compile([]), plain = try compile([.recomputedPooledConvolution])
            XCTAssertEqual(rewritten.nodes.filter { $0.op == .fusedConv2dMaxpool }.count, 1)
            XCTAssertEqual(rewritten.nodes.filter { $0.op == .recomputedPooledConv2dGradWeight }.count, 1)
            XCTAssertFalse(rewritten.nodes.contains { $0.op == .pooledConv2dGradWeight || $0.type.shape == Shape(known: [4, 6, 10, 10]) },
                           "the full-resolution activation and its reader are gone")
            XCTAssertEqual(plain.nodes.filter { $0.op == .pooledConv2dGradWeight }.count, 1)
            let want = try Executor(graph: plain, options: ExecutionOptions(threads: 1)).run(feeds: c.feeds, parameters: c.store)
            var first: [String: [UInt32]]?
            for threads in [1, 2, 3] {
                let out = try Executor(graph: rewritten, options: ExecutionOptions(threads: threads)).run(feeds: c.feeds, parameters: c.store)
                XCTAssertEqual(Set(out.keys), Set(want.keys))
                for (name, t) in want {
                    let got = try XCTUnwrap(out[name])
                    for (g, e) in zip(got.floats, t.floats) { XCTAssertEqual(g, e, accuracy: 1e-5 * max(1, abs(e)), name) }
                }
                let grad = try XCTUnwrap(out[GradientOutput.name(forParameter: "w")]).floats
                for (g, a) in zip(grad, try XCTUnwrap(analytic["w"])) { XCTAssertEqual(g, a, accuracy: 1e-5 * max(1, abs(a))) }
                let bits = out.mapValues { $0.floats.map(\.bitPattern) }
                if let first { XCTAssertEqual(bits, first, "\(threads) threads") } else { first = bits }
            }
        }
    }
}
