import GraphIR
import Passes
@testable import Runtime
import XCTest

/// `pooled_conv2d_grad_weight` (CConvKernels/pooled_grad_weight.c and its fallback) against a
/// naive reference of the two ops it replaces (each window's gradient to its first maximum,
/// then the convolution's weight gradient, in Double), on every ISA and thread count; and the
/// `pooled-weight-gradients` rewrite's weight gradient against central differences.
final class KernelPooledGradWeightTests: XCTestCase {
    let data = TestData(seed: 97)

    /// Pre-pool values with many exact ties (zeros of both signs, small integers), some NaNs
    /// and infinities of both signs.
    func awkward(_ shape: [Int]) -> HostTensor {
        let u = data.floats(shape, in: 0...1).floats, v = data.floats(shape, in: -3...3).floats
        return HostTensor(shape: shape, floats: zip(u, v).map { r, x in
            r < 0.2 ? 0 : r < 0.25 ? -0.0 : r < 0.26 ? .nan : r < 0.27 ? .infinity : r < 0.28 ? -.infinity : r < 0.6 ? x.rounded() : x
        })
    }

    /// maxpool2d_grad (2x2, stride 2: the first NaN, else the first strict maximum, scanning
    /// the window row by row; with relu only a maximum above 0), then conv2d_grad_weight with
    /// stride 1 and top/left padding `pad`, in Double.
    func reference(dp: HostTensor, y: HostTensor, x: HostTensor, weight: [Int], pad: [Int], relu: Bool) -> [Double] {
        let (n, o, h, w) = (y.shape[0], y.shape[1], y.shape[2], y.shape[3])
        let (c, ih, iw) = (x.shape[1], x.shape[2], x.shape[3]), (kh, kw) = (weight[2], weight[3])
        var dy = [Double](repeating: 0, count: y.count)
        for plane in 0..<(n * o) { for i in 0..<(h / 2) { for j in 0..<(w / 2) {
            var at = -1
            scan: for di in 0..<2 { for dj in 0..<2 {
                let idx = (plane * h + 2 * i + di) * w + 2 * j + dj, v = y.floats[idx]
                if v.isNaN { at = idx; break scan }
                if at < 0 || v > y.floats[at] { at = idx }
            } }
            guard !relu || y.floats[at] > 0 else { continue }
            dy[at] = Double(dp.floats[(plane * (h / 2) + i) * (w / 2) + j])
        } } }
        var dw = [Double](repeating: 0, count: weight.reduce(1, *))
        for img in 0..<n { for oc in 0..<o { for ic in 0..<c { for ky in 0..<kh { for kx in 0..<kw {
            var s = 0.0
            for r in 0..<h { for q in 0..<w {
                let xr = r - pad[0] + ky, xc = q - pad[1] + kx
                guard xr >= 0, xr < ih, xc >= 0, xc < iw else { continue }
                s += dy[((img * o + oc) * h + r) * w + q] * Double(x.floats[((img * c + ic) * ih + xr) * iw + xc])
            } }
            dw[((oc * c + ic) * kh + ky) * kw + kx] += s
        } } } } }
        return dw
    }

    func attributes(pad: [Int], relu: Bool) -> Attributes {
        var a: Attributes = ["stride": .ints([1, 1]), "padding": .ints(pad)]
        if relu { a["activation"] = .string("relu") }
        return a
    }

    /// The C kernel's shapes: one and several input channels, pooled rows shorter than its
    /// 16 lanes, longer (a second partial block), exactly 16, padding 0-2, relu or not. Within
    /// float rounding of the reference; the same bits on 1-3 threads.
    func testAgainstTheUnfusedReferenceOnEveryISA() throws {
        // (images, in channels, out channels, input height, width, padding)
        let cases = [(3, 1, 5, 8, 8, 1), (2, 3, 4, 10, 12, 0), (2, 2, 3, 34, 38, 1), (1, 1, 2, 6, 30, 2), (2, 1, 17, 28, 28, 1)]
        for (n, c, o, ih, iw, p) in cases {
            let h = ih + 2 * p - 2, w = iw + 2 * p - 2
            let x = data.floats([n, c, ih, iw]), y = awkward([n, o, h, w]), dp = data.floats([n, o, h / 2, w / 2])
            let weight = [o, c, 3, 3], wt = HostTensor(shape: weight, floats: [Float](repeating: 0, count: o * c * 9))
            for relu in [false, true] {
                let want = reference(dp: dp, y: y, x: x, weight: weight, pad: [p, p], relu: relu)
                let scale = want.map(abs).max() ?? 1
                try onEveryISA { isa in
                    var first: [UInt32]?
                    for threads in 1...3 {
                        let got = try runOp(.pooledConv2dGradWeight, [dp, y, x, wt], attributes(pad: [p, p], relu: relu), threads: threads)
                        XCTAssertEqual(got.shape, weight)
                        for (g, r) in zip(got.floats, want) {
                            XCTAssertEqual(Double(g), r, accuracy: 1e-5 * max(1, scale), "\(n)x\(c)x\(ih)x\(iw) -> \(o), p \(p), relu \(relu), \(isa)")
                        }
                        let bits = got.floats.map(\.bitPattern)
                        if let first { XCTAssertEqual(bits, first, "\(threads) threads, \(isa)") } else { first = bits }
                    }
                }
            }
        }
    }

    /// A layer of many channels (64 in, 256 out: 16 lane sums per weight, 9 MB at once): the
    /// scratch stays within 4 MB of accumulators (plus one deinterleaved input plane) per
    /// chunk, the output channels taken a slice at a time; the reference's values, the same
    /// bits at 1 and 2 threads.
    func testManyChannelsTakeBoundedScratch() {
        let (n, c, o, side) = (1, 64, 256, 4)
        let x = data.floats([n, c, side, side]), y = awkward([n, o, side, side]), dp = data.floats([n, o, side / 2, side / 2])
        let want = reference(dp: dp, y: y, x: x, weight: [o, c, 3, 3], pad: [1, 1], relu: true)
        assertBoundedScratchSameBits(count: o * c * 9, want: want) { pool, workspace, dw in
            var xs = x.floats, ys = y.floats, dps = dp.floats
            xs.withUnsafeMutableBytes { xb in ys.withUnsafeMutableBytes { yb in dps.withUnsafeMutableBytes { pb in
                pooledConv2dGradWeight(dp: TensorView(data: pb.baseAddress!, shape: dp.shape, dtype: .f32),
                                       y: TensorView(data: yb.baseAddress!, shape: y.shape, dtype: .f32),
                                       x: TensorView(data: xb.baseAddress!, shape: x.shape, dtype: .f32),
                                       dw: TensorView(data: UnsafeMutableRawPointer(dw), shape: [o, c, 3, 3], dtype: .f32),
                                       attributes: attributes(pad: [1, 1], relu: true), workspace: workspace, pool: pool)
            } } }
        }
    }

    /// The kernels of the two ops it replaces give the same values (within rounding).
    func testMatchesTheUnfusedKernels() throws {
        let x = data.floats([4, 1, 28, 28]), y = awkward([4, 16, 28, 28]), dp = data.floats([4, 16, 14, 14])
        let wt = HostTensor(shape: [16, 1, 3, 3], floats: [Float](repeating: 0, count: 144))
        let pool: Attributes = ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0]), "activation": .string("relu")]
        let full = try runOp(.maxpool2dGrad, [dp, y], pool, threads: 2)
        let want = try runOp(.conv2dGradWeight, [full, x, wt], ["stride": .ints([1, 1]), "padding": .ints([1, 1])], threads: 2)
        let got = try runOp(.pooledConv2dGradWeight, [dp, y, x, wt], attributes(pad: [1, 1], relu: true), threads: 2)
        let scale = want.floats.map(abs).max() ?? 1
        for (g, w) in zip(got.floats, want.floats) { XCTAssertEqual(g, w, accuracy: 1e-5 * max(1, scale)) }
    }

    /// Windows the C kernel does not take (5x5, dilated) run the two ops it replaces: their bits.
    func testOtherWindowsRunTheUnfusedOps() throws {
        for (k, dilation, pad) in [(5, 1, 2), (3, 2, 2)] {
            let x = data.floats([2, 2, 8, 8]), y = awkward([2, 3, 8, 8]), dp = data.floats([2, 3, 4, 4])
            let wt = HostTensor(shape: [3, 2, k, k], floats: [Float](repeating: 0, count: 3 * 2 * k * k))
            var conv: Attributes = ["stride": .ints([1, 1]), "padding": .ints([pad, pad]), "dilation": .ints([dilation, dilation])]
            let pool: Attributes = ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0])]
            let want = try runOp(.conv2dGradWeight, [try runOp(.maxpool2dGrad, [dp, y], pool), x, wt], conv)
            let wantValues = reference(dp: dp, y: y, x: x, weight: [3, 2, k, k], pad: [pad, pad], relu: false)
            conv["activation"] = .string("none")
            let got = try runOp(.pooledConv2dGradWeight, [dp, y, x, wt], conv)
            XCTAssertEqual(got.floats.map(\.bitPattern), want.floats.map(\.bitPattern), "\(k)x\(k) dilation \(dilation)")
            if dilation == 1 {
                for (g, r) in zip(got.floats, wantValues) { XCTAssertEqual(Double(g), r, accuracy: 1e-4 * max(1, abs(r))) }
            }
        }
    }

    func testShapeRuleRefusesOperandsThatDoNotFit() {
        let b = GraphBuilder(name: "g")
        let dp = b.input("dp", .f32([2, 4, 3, 3])), y = b.input("y", .f32([2, 4, 6, 6])), x = b.input("x", .f32([2, 1, 6, 6]))
        let w = b.parameter("w", .f32([4, 1, 3, 3]), initializer: ["init": .string("zeros")])
        let odd = b.input("odd", .f32([2, 4, 7, 7])), xOdd = b.input("xOdd", .f32([2, 1, 7, 7]))
        let x2 = b.input("x2", .f32([2, 2, 6, 6])), dpWrong = b.input("dpWrong", .f32([2, 4, 3, 2]))
        let a: Attributes = ["stride": .ints([1, 1]), "padding": .ints([1, 1])]
        XCTAssertEqual(b.type(of: try b.emit(.pooledConv2dGradWeight, [dp, y, x, w], a)), .f32([4, 1, 3, 3]))
        XCTAssertThrowsError(try b.emit(.pooledConv2dGradWeight, [dp, odd, xOdd, w], a), "odd sides")
        XCTAssertThrowsError(try b.emit(.pooledConv2dGradWeight, [dpWrong, y, x, w], a), "pooled shape")
        XCTAssertThrowsError(try b.emit(.pooledConv2dGradWeight, [dp, y, x2, w], a), "channels")
        XCTAssertThrowsError(try b.emit(.pooledConv2dGradWeight, [dp, y, x, w], ["stride": .ints([1, 1]), "padding": .ints([0, 0])]),
                             "y is not the convolution's output")
        XCTAssertThrowsError(try b.emit(.pooledConv2dGradWeight, [dp, y, x, w], ["stride": .ints([1, 1]), "padding": .ints([1, 1]),
                                                                                 "activation": .string("tanh")]))
    }

    /// conv + bias, relu, 2x2 pooling, differentiated: the weight gradient the rewritten
    /// backward takes from the pooled gradient equals Autodiff's, which the central differences
    /// check; and the unfused graph's within rounding.
    func testRewrittenWeightGradientMatchesCheckedGradients() throws {
        for (channels, size) in [(1, 8), (2, 10)] {
            let c = GradientCheckGraph("conv-pool-\(channels)", seed: 11)
            let x = c.input("x", .f32([2, channels, size, size]))
            let w = c.param("w", [3, channels, 3, 3]), bias = c.param("b", [3])
            let conv = try c.emit(.conv2d, [x, w, bias], ["stride": .ints([1, 1]), "padding": .ints([1, 1])])
            try c.finishWithWeightedSum(try c.maxpool(try c.relu(conv), 2))
            let analytic = try checkGradients(c, maxPerParameter: 16)
            let context = PassContext(options: PassOptions(verifyEach: true))
            let rewritten = try Pipeline(["fusion", "pool-gradient-sums", "pooled-weight-gradients", "dce", "verify"])
                .run(try Autodiff.differentiate(c.graph), context)
            XCTAssertEqual(rewritten.nodes.filter { $0.op == .pooledConv2dGradWeight }.count, 1)
            XCTAssertFalse(rewritten.nodes.contains { $0.op == .maxpool2dGrad })
            for threads in [1, 2] {
                let out = try Executor(graph: rewritten, options: ExecutionOptions(threads: threads)).run(feeds: c.feeds, parameters: c.store)
                let got = try XCTUnwrap(out[GradientOutput.name(forParameter: "w")]).floats
                for (g, a) in zip(got, try XCTUnwrap(analytic["w"])) { XCTAssertEqual(g, a, accuracy: 1e-5 * max(1, abs(a))) }
            }
        }
    }
}
