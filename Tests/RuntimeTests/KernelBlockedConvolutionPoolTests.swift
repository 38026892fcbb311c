import GraphIR
@testable import Runtime
import XCTest

/// `blocked_conv2d_maxpool` (2x2 max pooling in the blocked convolution's store) against
/// naive [N, C, H, W] loops in Double, on every instruction set this CPU has and 1, 2 and 3
/// threads; and bit for bit against the unfused blocked_conv2d and blocked_maxpool2d.
final class KernelBlockedConvolutionPoolTests: XCTestCase {
    typealias Case = KernelBlockedConvolutionTests.Case
    let data = TestData(seed: 37)

    /// The Q2 CNN's two layers (1 -> 16 'same', 16 -> 32 valid), and odd conv outputs (the
    /// last row and column pool nowhere), strides 2, kernels 1 and 5, several output blocks,
    /// widths giving full and partial register tiles and edge positions.
    let cases = [
        Case(n: 2, c: 1, h: 28, w: 28, o: 16, k: 3, s: 1, p: 1),
        Case(n: 2, c: 16, h: 14, w: 14, o: 32, k: 3, s: 1, p: 0),
        Case(n: 1, c: 3, h: 11, w: 13, o: 16, k: 5, s: 2, p: 2),
        Case(n: 2, c: 32, h: 7, w: 9, o: 48, k: 3, s: 1, p: 1),
        Case(n: 1, c: 16, h: 6, w: 31, o: 16, k: 1, s: 1, p: 0),
        Case(n: 3, c: 2, h: 5, w: 4, o: 32, k: 3, s: 2, p: 1),
    ]

    override func tearDown() { VectorISA.limit(to: nil) }

    /// The fused op (`fused`) or blocked_conv2d then blocked_maxpool2d, between reorders, as
    /// one graph run with `threads`.
    func run(_ k: Case, fused: Bool, x: HostTensor, w: HostTensor, scale: HostTensor, shift: HostTensor,
             relu: Bool, threads: Int) throws -> HostTensor {
        let b = GraphBuilder(name: "conv-pool")
        let xv = b.input("x", TensorType(.f32, Shape(known: x.shape)))
        let wv = b.input("w", TensorType(.f32, Shape(known: w.shape)))
        let sv = b.input("scale", TensorType(.f32, Shape(known: scale.shape)))
        let tv = b.input("shift", TensorType(.f32, Shape(known: shift.shape)))
        let plainInput = k.c < channelBlock
        let xb = plainInput ? xv : try b.emit(.reorderToBlocked, [xv])
        let wp = try b.emit(.packConvWeight, [wv], ["in_block": .int(plainInput ? 1 : channelBlock)])
        var attrs = k.attributes
        attrs["activation"] = .string(relu ? "relu" : "none")
        let y = fused ? try b.emit(.blockedConv2dMaxpool, [xb, wp, sv, tv], attrs)
            : try b.emit(.blockedMaxpool2d, [try b.emit(.blockedConv2d, [xb, wp, sv, tv], attrs)],
                         ["kernel": .ints([2, 2]), "stride": .ints([2, 2]), "padding": .ints([0, 0])])
        b.outputs = [("y", try b.emit(.reorderFromBlocked, [y]))]
        let ex = try Executor(graph: b.finish(), options: ExecutionOptions(training: false, threads: threads))
        return try XCTUnwrap(ex.run(feeds: ["x": x, "w": w, "scale": scale, "shift": shift], parameters: ParameterStore())["y"])
    }

    /// 2x2 stride-2 max pooling of [N, O, H', W'] (floor: an odd last row or column is dropped).
    static func pool(_ k: Case, _ v: [Double]) -> [Double] {
        let ph = k.oh / 2, pw = k.ow / 2
        var y = [Double](repeating: 0, count: k.n * k.o * ph * pw)
        for p in 0..<(k.n * k.o) { for i in 0..<ph { for j in 0..<pw {
            var m = -Double.infinity
            for a in 0..<2 { for b in 0..<2 { m = max(m, v[(p * k.oh + 2 * i + a) * k.ow + 2 * j + b]) } }
            y[(p * ph + i) * pw + j] = m
        } } }
        return y
    }

    func testConvolutionWithPoolingMatchesNaiveLoopsOnEveryInstructionSetAndThreadCount() throws {
        let best = VectorISA.limit(to: nil)
        for k in cases {
            let x = data.floats([k.n, k.c, k.h, k.w]), w = data.floats([k.o, k.c, k.k, k.k])
            // Scales of both signs: the pooling must take the maximum after scale and shift.
            let scale = data.floats([k.o], in: -1.5...1.5), shift = data.floats([k.o])
            let sums = KernelBlockedConvolutionTests.convolution(k, x: x.floats, w: w.floats)
            for relu in [false, true] {
                let want = Self.pool(k, KernelBlockedConvolutionTests.epilogue(k, sums, scale: scale.floats, shift: shift.floats,
                                                                              residual: nil, relu: relu))
                for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
                    XCTAssertEqual(VectorISA.limit(to: isa), isa)
                    let unfused = try run(k, fused: false, x: x, w: w, scale: scale, shift: shift, relu: relu, threads: 2)
                    for threads in [1, 2, 3] {
                        let got = try run(k, fused: true, x: x, w: w, scale: scale, shift: shift, relu: relu, threads: threads)
                        XCTAssertEqual(got.shape, [k.n, k.o, k.oh / 2, k.ow / 2])
                        assertClose(got, want, shape: [k.n, k.o, k.oh / 2, k.ow / 2], tol: 1e-4, "\(isa) \(k) relu \(relu) threads \(threads)")
                        XCTAssertEqual(got.floats.map(\.bitPattern), unfused.floats.map(\.bitPattern),
                                       "\(isa) \(k) relu \(relu) threads \(threads): the unfused kernels' values")
                    }
                }
            }
        }
    }

    /// A NaN in the input reaches every pooled cell whose window it is in, as with the unfused
    /// pooling (ReLU keeps NaN).
    func testNaNPropagatesThroughThePooledStore() throws {
        let k = Case(n: 1, c: 1, h: 6, w: 6, o: 16, k: 1, s: 1, p: 0)
        var values = data.floats([1, 1, 6, 6]).floats
        values[2 * 6 + 3] = .nan   // row 2, column 3: pooled cell (1, 1)
        let x = HostTensor(shape: [1, 1, 6, 6], floats: values)
        let w = data.floats([16, 1, 1, 1])
        let got = try run(k, fused: true, x: x, w: w, scale: HostTensor(shape: [], floats: [1]), shift: HostTensor(shape: [], floats: [0]),
                          relu: true, threads: 1)
        for o in 0..<16 { for i in 0..<3 { for j in 0..<3 {
            XCTAssertEqual(got.floats[(o * 3 + i) * 3 + j].isNaN, i == 1 && j == 1, "channel \(o) cell \(i),\(j)")
        } } }
    }
}
