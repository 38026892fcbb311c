import CConvKernels
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

    /// activation(conv2d(x, w) + b) at every position, stride 1, padding [top, left, bottom,
    /// right], in Double.
    func convolution(x: HostTensor, w: HostTensor, b: HostTensor?, padding p: [Int], relu: Bool) -> (values: [Double], h: Int, w: Int) {
        let (n, c, ih, iw) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]), o = w.shape[0]
        let h = ih + p[0] + p[2] - 2, wd = iw + p[1] + p[3] - 2
        var y = [Double](repeating: 0, count: n * o * h * wd)
        for img in 0..<n { for oc in 0..<o { for r in 0..<h { for q in 0..<wd {
            var s = b.map { Double($0.floats[oc]) } ?? 0
            for ic in 0..<c { for ky in 0..<3 { for kx in 0..<3 {
                let xr = r - p[0] + ky, xc = q - p[1] + kx
                guard xr >= 0, xr < ih, xc >= 0, xc < iw else { continue }
                s += Double(x.floats[((img * c + ic) * ih + xr) * iw + xc]) * Double(w.floats[((oc * c + ic) * 3 + ky) * 3 + kx])
            } } }
            y[((img * o + oc) * h + r) * wd + q] = relu && !(s > 0) && !s.isNaN ? 0 : s
        } } } }
        return (y, h, wd)
    }

    func convolution(x: HostTensor, w: HostTensor, b: HostTensor?, pad: Int, relu: Bool) -> (values: [Double], h: Int, w: Int) {
        convolution(x: x, w: w, b: b, padding: [pad, pad, pad, pad], relu: relu)
    }

    /// The 2x2 stride-2 max pooling of y [planes, h, w] (a NaN wins).
    func pooled(_ y: [Double], planes: Int, h: Int, w: Int) -> [Double] {
        var want: [Double] = []
        for plane in 0..<planes { for i in 0..<(h / 2) { for j in 0..<(w / 2) {
            let window = [0, 1, w, w + 1].map { y[(plane * h + 2 * i) * w + 2 * j + $0] }
            want.append(window.contains { $0.isNaN } ? .nan : window.max()!)
        } } }
        return want
    }

    /// conv2d_grad_weight(maxpool2d_grad(dp, y) {activation}, x) in Double: the full-resolution
    /// gradient, then the dense sums (a 0 times a NaN input is NaN there too).
    func weightGradient(dp: HostTensor, y: [Double], x: HostTensor, outChannels o: Int, h: Int, w wd: Int, padding p: [Int],
                        relu: Bool) -> [Double] {
        let (n, c, ih, iw) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var dy = [Double](repeating: 0, count: y.count)
        for plane in 0..<(n * o) { for i in 0..<(h / 2) { for j in 0..<(wd / 2) {
            guard let at = argmax(y, plane: plane, h: h, w: wd, i: i, j: j, relu: relu) else { continue }
            dy[at] = Double(dp.floats[(plane * (h / 2) + i) * (wd / 2) + j])
        } } }
        var want = [Double](repeating: 0, count: o * c * 9)
        for img in 0..<n { for oc in 0..<o { for ic in 0..<c { for ky in 0..<3 { for kx in 0..<3 {
            for r in 0..<h { for q in 0..<wd {
                let xr = r - p[0] + ky, xc = q - p[1] + kx
                guard xr >= 0, xr < ih, xc >= 0, xc < iw else { continue }
                want[((oc * c + ic) * 3 + ky) * 3 + kx] += dy[((img * o + oc) * h + r) * wd + q] * Double(x.floats[((img * c + ic) * ih + xr) * iw + xc])
            } }
        } } } } }
        return want
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
                    let want = pooled(y, planes: n * o, h: h, w: wd)
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
        let want = pooled(y, planes: 32, h: h, w: wd)
        assertClose(try runOp(.fusedConv2dMaxpool, [x, w, b], attributes(pad: 1, relu: true)), want, shape: [2, 16, 14, 14])
    }

    func testWeightGradientRecomputesTheWindowsOnEveryISA() throws {
        for (n, c, o, ih, iw, p) in cases {
            let x = exact([n, c, ih, iw], scale: 1, nans: n == 3), w = exact([o, c, 3, 3], scale: 0.125), b = exact([o], scale: 0.125)
            for relu in [false, true] {
                let (y, h, wd) = convolution(x: x, w: w, b: b, pad: p, relu: relu)
                let dp = data.floats([n, o, h / 2, wd / 2])
                let want = weightGradient(dp: dp, y: y, x: x, outChannels: o, h: h, w: wd, padding: [p, p, p, p], relu: relu)
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

    /// Random shapes: 1-5 images, 1-4 input channels, 1-20 output channels, odd and even input
    /// sides, unequal padding on each side (top and left passed to the kernels, bottom and right
    /// only in the shape): both ops against the references, bit for bit over 1-4 threads.
    func testRandomShapesAndUnequalPadding() throws {
        let random = RandomSource(seed: 977)
        var done = 0
        while done < 24 {
            let n = 1 + random.nextInt(below: 5), c = 1 + random.nextInt(below: 4), o = 1 + random.nextInt(below: 20)
            let ih = 1 + random.nextInt(below: 24), iw = 1 + random.nextInt(below: 40)
            let padding = (0..<4).map { _ in random.nextInt(below: recomputedConvolutionMaxPadding + 1) }
            let h = ih + padding[0] + padding[2] - 2, wd = iw + padding[1] + padding[3] - 2
            guard h >= 2, wd >= 2, h % 2 == 0, wd % 2 == 0 else { continue }
            done += 1
            let relu = done % 2 == 0, nans = done % 3 == 0
            let x = exact([n, c, ih, iw], scale: 1, nans: nans), w = exact([o, c, 3, 3], scale: 0.125), b = exact([o], scale: 0.125)
            var a: Attributes = ["stride": .ints([1, 1]), "padding": .ints(padding)]
            if relu { a["activation"] = .string("relu") }
            let (y, _, _) = convolution(x: x, w: w, b: b, padding: padding, relu: relu)
            let forward = pooled(y, planes: n * o, h: h, w: wd)
            let dp = data.floats([n, o, h / 2, wd / 2])
            let gradient = weightGradient(dp: dp, y: y, x: x, outChannels: o, h: h, w: wd, padding: padding, relu: relu)
            let scale = gradient.filter { !$0.isNaN }.map(abs).max() ?? 1
            let what = "\(n)x\(c)x\(ih)x\(iw) -> \(o), padding \(padding), relu \(relu)"
            try onEveryISA { isa in
                var first: ([UInt32], [UInt32])?
                for threads in 1...4 {
                    let got = try runOp(.fusedConv2dMaxpool, [x, w, b], a, threads: threads)
                    XCTAssertEqual(got.shape, [n, o, h / 2, wd / 2], what)
                    for (g, r) in zip(got.floats, forward) {
                        if r.isNaN { XCTAssertTrue(g.isNaN, what) } else { XCTAssertEqual(Double(g), r, "\(what), \(isa)") }
                    }
                    let dw = try runOp(.recomputedPooledConv2dGradWeight, [dp, x, w, b], a, threads: threads)
                    for (g, r) in zip(dw.floats, gradient) {
                        if r.isNaN { XCTAssertTrue(g.isNaN, what) } else { XCTAssertEqual(Double(g), r, accuracy: 1e-5 * max(1, scale), "\(what), \(isa)") }
                    }
                    let bits = (got.floats.map(\.bitPattern), dw.floats.map(\.bitPattern))
                    if let first { XCTAssertTrue(bits == first, "\(what): \(threads) threads, \(isa)") } else { first = bits }
                }
            }
        }
    }

    /// The shape rules' channel limit is the one the C kernels size their stack arrays by.
    func testTheChannelLimitIsTheKernels() {
        XCTAssertEqual(recomputedConvolutionMaxInChannels, Int(GC_PC_MAX_IN_CHANNELS))
    }

    /// A layer of many output channels (4 in, 4096 out: 16 lane sums per weight, 9.4 MB at
    /// once): each chunk's scratch stays within 4 MB of accumulators plus one image's copied
    /// planes, the channels taken a slice at a time; the reference's values, and the same bits
    /// at 1 and 2 threads (the slices differ between them).
    func testManyChannelsTakeBoundedScratch() {
        let (n, c, o, side) = (1, 4, 4096, 4)
        let x = exact([n, c, side, side], scale: 1), w = exact([o, c, 3, 3], scale: 0.125), b = exact([o], scale: 0.125)
        let (y, h, wd) = convolution(x: x, w: w, b: b, pad: 1, relu: true)
        let dp = data.floats([n, o, h / 2, wd / 2])
        let want = weightGradient(dp: dp, y: y, x: x, outChannels: o, h: h, w: wd, padding: [1, 1, 1, 1], relu: true)
        assertBoundedScratchSameBits(count: o * c * 9, want: want) { pool, workspace, dw in
            var xs = x.floats, ws = w.floats, bs = b.floats, dps = dp.floats
            xs.withUnsafeMutableBytes { xb in ws.withUnsafeMutableBytes { wb in bs.withUnsafeMutableBytes { bb in
                dps.withUnsafeMutableBytes { pb in
                    recomputedPooledConv2dGradWeight(
                        dp: TensorView(data: pb.baseAddress!, shape: dp.shape, dtype: .f32),
                        x: TensorView(data: xb.baseAddress!, shape: x.shape, dtype: .f32),
                        w: TensorView(data: wb.baseAddress!, shape: w.shape, dtype: .f32),
                        bias: TensorView(data: bb.baseAddress!, shape: b.shape, dtype: .f32),
                        dw: TensorView(data: UnsafeMutableRawPointer(dw), shape: [o, c, 3, 3], dtype: .f32),
                        attributes: attributes(pad: 1, relu: true), workspace: workspace, pool: pool)
                }
            } } }
        }
    }

    /// An empty batch: nothing written forward, a zero weight gradient (no scratch sized by the
    /// padding alone).
    func testAnEmptyBatchGivesAZeroGradient() throws {
        let x = HostTensor(shape: [0, 2, 8, 8], floats: []), w = exact([3, 2, 3, 3], scale: 0.125), b = exact([3], scale: 0.125)
        let y = try runOp(.fusedConv2dMaxpool, [x, w, b], attributes(pad: 1, relu: true))
        XCTAssertEqual(y.shape, [0, 3, 4, 4])
        let dp = HostTensor(shape: [0, 3, 4, 4], floats: [])
        let dw = try runOp(.recomputedPooledConv2dGradWeight, [dp, x, w, b], attributes(pad: 1, relu: true))
        XCTAssertEqual(dw.shape, [3, 2, 3, 3])
        XCTAssertEqual(dw.floats, [Float](repeating: 0, count: 54))
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
        XCTAssertThrowsError(try b.emit(.fusedConv2dMaxpool, [x, w], ["stride": .ints([1, 1]), "padding": .ints([1, 3, 1, 1])]), "padding 3")
        XCTAssertThrowsError(try b.emit(.recomputedPooledConv2dGradWeight, [b.input("dp5", .f32([2, 4, 5, 5])), x, w],
                                        ["stride": .ints([1, 1]), "padding": .ints([3, 3])]), "padding 3")
    }

    /// A hand-written graph whose 20 MB output needed 10 GB of scratch (its padding held as
    /// 5 million rows of zeros, each 16 lanes wide, per input channel) is refused by the
    /// verifier with a message, not run into a failed allocation.
    func testWidePaddingIsAnErrorNotATrap() {
        let ir = """
        graph @g {
          %x = input() {name="image"} : f32[1,4,2,2]
          %w = param() {name="w", init="zeros"} : f32[1,4,3,3]
          %p = fused_conv2d_maxpool(%x, %w) {stride=[1,1], padding=[5000000,1,5000000,1]} : f32[1,1,5000000,1]
          output "p" = %p
        }
        """
        XCTAssertThrowsError(try Verifier.check(try IRParser.parse(ir, file: "wide.gir"))) { error in
            XCTAssertTrue("\(error)".contains("padding of at most 2"), "\(error)")
        }
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
