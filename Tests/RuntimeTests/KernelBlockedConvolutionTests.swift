import GraphIR
@testable import Runtime
import XCTest

/// The blocked-layout kernels against naive [N, C, H, W] loops in Double, on every
/// instruction set this CPU has (the kernels pick AVX-512, AVX2 or SSE2 at run time).
final class KernelBlockedConvolutionTests: XCTestCase {
    let data = TestData(seed: 31)

    struct Case {
        var n: Int, c: Int, h: Int, w: Int, o: Int, k: Int, s: Int, p: Int
        var oh: Int { (h + 2 * p - k) / s + 1 }
        var ow: Int { (w + 2 * p - k) / s + 1 }
        var attributes: Attributes { ["stride": .ints([s, s]), "padding": .ints([p, p])] }
    }

    /// Plain (c < 16) and blocked inputs; widths giving full register tiles, partial tiles and
    /// edge positions; strides 1 and 2; kernels 1, 3 and 7.
    let cases = [
        Case(n: 2, c: 3, h: 11, w: 13, o: 16, k: 7, s: 2, p: 3),
        Case(n: 1, c: 16, h: 9, w: 30, o: 32, k: 3, s: 1, p: 1),
        Case(n: 2, c: 32, h: 6, w: 5, o: 48, k: 3, s: 2, p: 1),
        Case(n: 1, c: 32, h: 7, w: 7, o: 16, k: 1, s: 2, p: 0),
        Case(n: 1, c: 1, h: 5, w: 17, o: 16, k: 3, s: 1, p: 0),
        Case(n: 1, c: 48, h: 4, w: 4, o: 32, k: 3, s: 1, p: 2),
    ]

    override func tearDown() { VectorISA.limit(to: nil) }

    /// `reorder_to_blocked` (for c >= 16), `pack_conv_weight`, `blocked_conv2d`, then
    /// `reorder_from_blocked`, as one graph.
    func runBlocked(_ k: Case, x: HostTensor, w: HostTensor, scale: HostTensor, shift: HostTensor,
                    residual: HostTensor?, relu: Bool) throws -> HostTensor {
        let b = GraphBuilder(name: "blocked")
        let xv = b.input("x", TensorType(.f32, Shape(known: x.shape)))
        let wv = b.input("w", TensorType(.f32, Shape(known: w.shape)))
        let sv = b.input("scale", TensorType(.f32, Shape(known: scale.shape)))
        let tv = b.input("shift", TensorType(.f32, Shape(known: shift.shape)))
        let plainInput = k.c < channelBlock
        let xb = plainInput ? xv : try b.emit(.reorderToBlocked, [xv])
        let wp = try b.emit(.packConvWeight, [wv], ["in_block": .int(plainInput ? 1 : channelBlock)])
        var ins = [xb, wp, sv, tv]
        var feeds = ["x": x, "w": w, "scale": scale, "shift": shift]
        if let r = residual {
            let rv = b.input("r", TensorType(.f32, Shape(known: r.shape)))
            ins.append(try b.emit(.reorderToBlocked, [rv]))
            feeds["r"] = r
        }
        var attrs = k.attributes
        attrs["activation"] = .string(relu ? "relu" : "none")
        let y = try b.emit(.blockedConv2d, ins, attrs)
        b.outputs = [("y", try b.emit(.reorderFromBlocked, [y]))]
        let ex = try Executor(graph: b.finish(), options: ExecutionOptions(training: false, threads: 2))
        return try XCTUnwrap(ex.run(feeds: feeds, parameters: ParameterStore())["y"])
    }

    /// The plain convolution's sums [N, O, H', W'], in Double.
    static func convolution(_ k: Case, x: [Float], w: [Float]) -> [Double] {
        var y = [Double](repeating: 0, count: k.n * k.o * k.oh * k.ow)
        for n in 0..<k.n { for o in 0..<k.o { for oi in 0..<k.oh { for oj in 0..<k.ow {
            var sum = 0.0
            for c in 0..<k.c { for ki in 0..<k.k { for kj in 0..<k.k {
                let i = oi * k.s - k.p + ki, j = oj * k.s - k.p + kj
                guard i >= 0, i < k.h, j >= 0, j < k.w else { continue }
                sum += Double(x[((n * k.c + c) * k.h + i) * k.w + j]) * Double(w[((o * k.c + c) * k.k + ki) * k.k + kj])
            } } }
            y[((n * k.o + o) * k.oh + oi) * k.ow + oj] = sum
        } } } }
        return y
    }

    /// `activation(sums * scale + shift (+ residual))` per output channel.
    static func epilogue(_ k: Case, _ sums: [Double], scale: [Float], shift: [Float], residual: [Float]?, relu: Bool) -> [Double] {
        let plane = k.oh * k.ow
        return sums.indices.map { i in
            let o = i / plane % k.o
            let v = sums[i] * Double(scale[o]) + Double(shift[o]) + (residual.map { Double($0[i]) } ?? 0)
            return relu ? max(v, 0) : v
        }
    }

    func testBlockedConvolutionMatchesNaiveLoopsOnEveryInstructionSet() throws {
        let best = VectorISA.limit(to: nil)
        for (i, k) in cases.enumerated() {
            let x = data.floats([k.n, k.c, k.h, k.w]), w = data.floats([k.o, k.c, k.k, k.k])
            let scale = data.floats([k.o], in: 0.5...1.5), shift = data.floats([k.o])
            let residual = i % 2 == 0 ? data.floats([k.n, k.o, k.oh, k.ow]) : nil
            let sums = Self.convolution(k, x: x.floats, w: w.floats)
            for relu in [false, true] {
                let want = Self.epilogue(k, sums, scale: scale.floats, shift: shift.floats, residual: residual?.floats, relu: relu)
                for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
                    XCTAssertEqual(VectorISA.limit(to: isa), isa)
                    let got = try runBlocked(k, x: x, w: w, scale: scale, shift: shift, residual: residual, relu: relu)
                    assertClose(got, want, shape: [k.n, k.o, k.oh, k.ow], tol: 1e-4, "\(isa) \(k) relu \(relu)")
                }
            }
        }
    }

    func testScalarScaleAndShiftApplyToEveryChannel() throws {
        let k = cases[1]
        let x = data.floats([k.n, k.c, k.h, k.w]), w = data.floats([k.o, k.c, k.k, k.k])
        let got = try runBlocked(k, x: x, w: w, scale: HostTensor(shape: [], floats: [2]), shift: HostTensor(shape: [], floats: [-0.5]),
                                 residual: nil, relu: false)
        let want = Self.epilogue(k, Self.convolution(k, x: x.floats, w: w.floats), scale: Array(repeating: 2, count: k.o),
                            shift: Array(repeating: -0.5, count: k.o), residual: nil, relu: false)
        assertClose(got, want, shape: [k.n, k.o, k.oh, k.ow], tol: 1e-4)
    }

    func testReordersAndPackingPlaceEachValueWhereTheLayoutSays() throws {
        let x = data.floats([2, 32, 3, 5])
        let blocked = try runOp(.reorderToBlocked, [x])
        XCTAssertEqual(blocked.shape, [2, 2, 3, 5, 16])
        for i in 0..<x.count {
            let idx = unravel(i, x.shape)
            XCTAssertEqual(blocked.floats[ravel([idx[0], idx[1] / 16, idx[2], idx[3], idx[1] % 16], blocked.shape)], x.floats[i])
        }
        XCTAssertEqual(try runOp(.reorderFromBlocked, [blocked]).floats, x.floats)

        let w = data.floats([32, 16, 3, 2])
        for ib in [1, 16] {
            let packed = try runOp(.packConvWeight, [w], ["in_block": .int(ib)])
            XCTAssertEqual(packed.shape, [2, 16 / ib, 3, 2, ib, 16])
            for i in 0..<w.count {
                let d = unravel(i, w.shape)
                XCTAssertEqual(packed.floats[ravel([d[0] / 16, d[1] / ib, d[2], d[3], d[1] % ib, d[0] % 16], packed.shape)], w.floats[i])
            }
        }
    }

    func testBlockedMaxPoolingMatchesThePlainKernel() throws {
        for isa in VectorISA.allCases where isa.rawValue <= VectorISA.limit(to: nil).rawValue {
            VectorISA.limit(to: isa)
            var values = data.floats([2, 32, 9, 8]).floats
            values[5] = .nan
            let x = HostTensor(shape: [2, 32, 9, 8], floats: values)
            let attrs: Attributes = ["kernel": .ints([3, 3]), "stride": .ints([2, 2]), "padding": .ints([1, 1])]
            let plain = try runOp(.maxpool2d, [x], attrs)
            let b = GraphBuilder(name: "pool")
            let xv = b.input("x", TensorType(.f32, Shape(known: x.shape)))
            b.outputs = [("y", try b.emit(.reorderFromBlocked, [try b.emit(.blockedMaxpool2d, [try b.emit(.reorderToBlocked, [xv])], attrs)]))]
            let got = try XCTUnwrap(Executor(graph: b.finish(), options: ExecutionOptions(training: false)).run(feeds: ["x": x], parameters: ParameterStore())["y"])
            XCTAssertEqual(got.shape, plain.shape)
            for (a, e) in zip(got.floats, plain.floats) { XCTAssertTrue(a == e || (a.isNaN && e.isNaN), "\(isa): \(a) vs \(e)") }
        }
    }

    /// `--isa`'s check with the CPU's best given, so that what a CPU without AVX-512 (or
    /// AVX2) refuses is tested on any machine; and the real best, whatever the limit, is
    /// what the CPU's flags say.
    func testInstructionSetRequestIsCheckedAgainstTheBest() throws {
        XCTAssertEqual(VectorISA.problem(withFlag: "avx512", best: .avx2), "--isa avx512: this CPU's best is AVX2+FMA")
        XCTAssertEqual(VectorISA.problem(withFlag: "avx512", best: .sse2), "--isa avx512: this CPU's best is SSE2")
        XCTAssertEqual(VectorISA.problem(withFlag: "avx2", best: .sse2), "--isa avx2: this CPU's best is SSE2")
        for best in VectorISA.allCases {
            for wanted in VectorISA.allCases where wanted.rawValue <= best.rawValue {
                XCTAssertNil(VectorISA.problem(withFlag: wanted.flag, best: best), "\(wanted) on \(best)")
            }
        }
        XCTAssertEqual(VectorISA.problem(withFlag: "avx9", best: .avx512), "--isa must be 'avx512', 'avx2' or 'sse2', got 'avx9'")

        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flagsLine = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
        let flags = Set(flagsLine.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == ":" }).map(String.init))
        let expected: VectorISA = flags.isSuperset(of: ["avx512f", "avx512dq"]) ? .avx512
            : flags.isSuperset(of: ["avx2", "fma"]) ? .avx2 : .sse2
        defer { VectorISA.limit(to: nil) }
        VectorISA.limit(to: .sse2)
        XCTAssertEqual(VectorISA.best, expected, "the limit does not change the best")
        XCTAssertNil(VectorISA.problem(withFlag: expected.flag))
        if expected != .avx512 { XCTAssertNotNil(VectorISA.problem(withFlag: "avx512")) }
    }

    func testShapeRulesRejectWhatTheLayoutCannotHold() {
        let b = GraphBuilder(name: "bad")
        let x = b.input("x", .f32(Shape(known: [1, 10, 4, 4])))
        XCTAssertThrowsError(try b.emit(.reorderToBlocked, [x]))
        let w = b.input("w", .f32(Shape(known: [24, 16, 3, 3])))
        XCTAssertThrowsError(try b.emit(.packConvWeight, [w], ["in_block": .int(16)]), "24 output channels are not whole blocks")
        let w2 = b.input("w2", .f32(Shape(known: [16, 16, 3, 3])))
        XCTAssertThrowsError(try b.emit(.packConvWeight, [w2], ["in_block": .int(8)]))
    }
}
