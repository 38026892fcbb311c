import CConvKernels
import Foundation
import GraphIR
@testable import Runtime
import XCTest

/// The Winograd F(4x4, 3x3) kernels against the naive Double convolution of
/// KernelBlockedConvolutionTests, on every instruction set this CPU has: partial 4x4 tiles at
/// the bottom and right edges, padding 0, 1 and 2, output-block counts that leave a partial
/// register tile, several tile blocks per image, residual, ReLU and scalar scale and shift.
final class KernelWinogradTests: XCTestCase {
    typealias Case = KernelBlockedConvolutionTests.Case
    let data = TestData(seed: 37)
    let reference = KernelBlockedConvolutionTests.self

    let cases = [
        Case(n: 2, c: 16, h: 9, w: 13, o: 32, k: 3, s: 1, p: 1),
        Case(n: 1, c: 48, h: 7, w: 6, o: 16, k: 3, s: 1, p: 0),
        Case(n: 1, c: 32, h: 17, w: 11, o: 48, k: 3, s: 1, p: 1),
        Case(n: 1, c: 16, h: 3, w: 3, o: 16, k: 3, s: 1, p: 1),
        Case(n: 1, c: 32, h: 30, w: 29, o: 64, k: 3, s: 1, p: 1),
        Case(n: 1, c: 16, h: 4, w: 5, o: 16, k: 3, s: 1, p: 2),
    ]

    /// F(4x4, 3x3) in float: the input transform's coefficients (up to 5, summed over a 6x6
    /// patch) and the output transform's (up to 8) grow rounding errors past the direct sum's,
    /// so errors are bounded relative to the largest output, not to each (a small output is a
    /// difference of large transformed terms); a wrong index gives errors of order 1.
    let tolerance = 2e-5

    /// Every |got - want| within `tolerance` of the largest |want|.
    func assertCloseToLargest(_ got: HostTensor, _ want: [Double], shape: [Int], _ what: String = "",
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(got.shape, shape, what, file: file, line: line)
        XCTAssertEqual(got.count, want.count, what, file: file, line: line)
        let largest = max(want.map(abs).max() ?? 0, 1e-30)
        var worst = 0.0, at = 0
        for (i, (g, w)) in zip(got.floats, want).enumerated() where !(abs(Double(g) - w) <= worst) { worst = abs(Double(g) - w); at = i }
        XCTAssertLessThanOrEqual(worst / largest, tolerance, "\(what): element \(at) is off by \(worst), largest output \(largest)",
                                 file: file, line: line)
    }

    override func tearDown() { VectorISA.limit(to: nil) }

    /// `reorder_to_blocked`, `winograd_weight_transform`, `winograd_conv2d`, then
    /// `reorder_from_blocked`, as one graph on `threads` threads.
    func runWinograd(_ k: Case, x: HostTensor, w: HostTensor, scale: HostTensor, shift: HostTensor,
                     residual: HostTensor?, relu: Bool, threads: Int = 2, tuner: Tuner? = nil) throws -> HostTensor {
        let b = GraphBuilder(name: "winograd")
        let xv = b.input("x", TensorType(.f32, Shape(known: x.shape)))
        let wv = b.input("w", TensorType(.f32, Shape(known: w.shape)))
        var ins = [try b.emit(.reorderToBlocked, [xv]), try b.emit(.winogradWeightTransform, [wv]),
                   b.input("scale", TensorType(.f32, Shape(known: scale.shape))), b.input("shift", TensorType(.f32, Shape(known: shift.shape)))]
        var feeds = ["x": x, "w": w, "scale": scale, "shift": shift]
        if let r = residual {
            ins.append(try b.emit(.reorderToBlocked, [b.input("r", TensorType(.f32, Shape(known: r.shape)))]))
            feeds["r"] = r
        }
        var attrs = k.attributes
        attrs["activation"] = .string(relu ? "relu" : "none")
        let y = try b.emit(.winogradConv2d, ins, attrs)
        b.outputs = [("y", try b.emit(.reorderFromBlocked, [y]))]
        let ex = try Executor(graph: b.finish(), options: ExecutionOptions(training: false, threads: threads, tuner: tuner))
        return try XCTUnwrap(ex.run(feeds: feeds, parameters: ParameterStore())["y"])
    }

    func testWinogradMatchesNaiveLoopsOnEveryInstructionSet() throws {
        let best = VectorISA.limit(to: nil)
        for (i, k) in cases.enumerated() {
            let x = data.floats([k.n, k.c, k.h, k.w]), w = data.floats([k.o, k.c, 3, 3])
            let scale = data.floats([k.o], in: 0.5...1.5), shift = data.floats([k.o])
            let residual = i % 2 == 0 ? data.floats([k.n, k.o, k.oh, k.ow]) : nil
            let sums = reference.convolution(k, x: x.floats, w: w.floats)
            for relu in [false, true] {
                let want = reference.epilogue(k, sums, scale: scale.floats, shift: shift.floats, residual: residual?.floats, relu: relu)
                for isa in VectorISA.allCases where isa.rawValue <= best.rawValue {
                    XCTAssertEqual(VectorISA.limit(to: isa), isa)
                    let got = try runWinograd(k, x: x, w: w, scale: scale, shift: shift, residual: residual, relu: relu)
                    assertCloseToLargest(got, want, shape: [k.n, k.o, k.oh, k.ow], "\(isa) \(k) relu \(relu)")
                }
            }
        }
    }

    func testScalarScaleAndShiftApplyToEveryChannel() throws {
        let k = cases[2]
        let x = data.floats([k.n, k.c, k.h, k.w]), w = data.floats([k.o, k.c, 3, 3])
        let got = try runWinograd(k, x: x, w: w, scale: HostTensor(shape: [], floats: [2]), shift: HostTensor(shape: [], floats: [-0.5]),
                                  residual: nil, relu: false)
        let want = reference.epilogue(k, reference.convolution(k, x: x.floats, w: w.floats), scale: Array(repeating: 2, count: k.o),
                                      shift: Array(repeating: -0.5, count: k.o), residual: nil, relu: false)
        assertCloseToLargest(got, want, shape: [k.n, k.o, k.oh, k.ow])
    }

    /// How the work is split (tile blocks, output groups, chunks) depends on the thread count;
    /// every output still sums its channels in one order, so the results are the same bits.
    func testResultsDoNotDependOnTheThreadCount() throws {
        for k in [cases[0], cases[4]] {
            let x = data.floats([k.n, k.c, k.h, k.w]), w = data.floats([k.o, k.c, 3, 3])
            let scale = data.floats([k.o]), shift = data.floats([k.o])
            let one = try runWinograd(k, x: x, w: w, scale: scale, shift: shift, residual: nil, relu: true, threads: 1)
            for threads in [2, 3] {
                let many = try runWinograd(k, x: x, w: w, scale: scale, shift: shift, residual: nil, relu: true, threads: threads)
                XCTAssertEqual(one.floats, many.floats, "\(k) on \(threads) threads")
            }
        }
    }

    /// How the work is split (`winograd-plan`, the tuner's choice: tiles per item, output
    /// blocks per item) never changes a bit: every plan that exists for the shape, read from a
    /// cache, and the one measured, give the default plan's result.
    func testEveryPlanGivesTheSameBits() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-winograd-plan-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        var neighbours = 0
        for (i, k) in [cases[0], cases[2], cases[4]].enumerated() {
            let x = data.floats([k.n, k.c, k.h, k.w]), w = data.floats([k.o, k.c, 3, 3])
            let scale = data.floats([k.o]), shift = data.floats([k.o])
            let residual = i == 1 ? data.floats([k.n, k.o, k.oh, k.ow]) : nil
            func run(_ tuner: Tuner) throws -> HostTensor {
                try runWinograd(k, x: x, w: w, scale: scale, shift: shift, residual: residual, relu: true, tuner: tuner)
            }
            let fixed = try run(Tuner(mode: .off))
            let base = gc_winograd_geometry(in_blocks: k.c / 16, out_blocks: k.o / 16, height: k.h, width: k.w, out_height: k.oh,
                                            out_width: k.ow, pad_h: k.p, pad_w: k.p, relu: 1, tiles_h: 0, tiles_w: 0, tile_block: 0, out_group: 0)
            let plans = winogradPlans(base, threads: 2)
            XCTAssertEqual(plans.first?.name, "plan")
            neighbours += plans.count - 1
            let key = TuningKey(point: "winograd-plan", shapes: [[k.n, k.c / 16, k.h, k.w, 16], [36, k.o / 16, k.c, 16]],
                                detail: residual == nil ? "" : "res", threads: 2)
            for plan in plans {
                let cache = TuningCache(url: dir.appendingPathComponent("\(i)-\(plan.name).json"))
                cache.remember(plan.name, for: key, on: .current)
                let tuner = Tuner(mode: .fast, cache: cache)
                XCTAssertEqual(try run(tuner).floats, fixed.floats, "\(k) plan \(plan.name)")
                if plans.count > 1 { XCTAssertEqual(tuner.decisions.first { $0.key == key }?.variant, plan.name) }
            }
            let measuring = Tuner(mode: .fast, cache: TuningCache(url: dir.appendingPathComponent("\(i)-measured.json")))
            XCTAssertEqual(try run(measuring).floats, fixed.floats, "\(k) measured")
            if plans.count > 1 { XCTAssertEqual(measuring.decisions.first { $0.key == key }?.source, .measured) }
        }
        XCTAssertGreaterThan(neighbours, 0, "some shape has plans besides the default")
    }

    /// u[p] = G w G^T at point p = 6i + j, element [p, o / 16, c, o % 16], against Double.
    func testWeightTransformPlacesGwGtWhereTheLayoutSays() throws {
        let w = data.floats([32, 16, 3, 3])
        let u = try runOp(.winogradWeightTransform, [w])
        XCTAssertEqual(u.shape, [36, 2, 16, 16])
        let g: [[Double]] = [[1.0 / 4, 0, 0], [-1.0 / 6, -1.0 / 6, -1.0 / 6], [-1.0 / 6, 1.0 / 6, -1.0 / 6],
                             [1.0 / 24, 1.0 / 12, 1.0 / 6], [1.0 / 24, -1.0 / 12, 1.0 / 6], [0, 0, 1]]
        for o in 0..<32 { for c in 0..<16 { for i in 0..<6 { for j in 0..<6 {
            var sum = 0.0
            for r in 0..<3 { for s in 0..<3 { sum += g[i][r] * Double(w.floats[((o * 16 + c) * 3 + r) * 3 + s]) * g[j][s] } }
            let got = u.floats[ravel([i * 6 + j, o / 16, c, o % 16], u.shape)]
            XCTAssertEqual(Double(got), sum, accuracy: 1e-6 * max(1, abs(sum)), "o \(o) c \(c) point \(i * 6 + j)")
        } } } }
    }

    func testShapeRulesRejectWhatWinogradCannotCompute() {
        let b = GraphBuilder(name: "bad")
        XCTAssertThrowsError(try b.emit(.winogradWeightTransform, [b.input("w5", .f32(Shape(known: [16, 16, 5, 5])))]), "a 5x5 kernel")
        XCTAssertThrowsError(try b.emit(.winogradWeightTransform, [b.input("w24", .f32(Shape(known: [24, 16, 3, 3])))]), "24 output channels")
        let x = b.input("x", .f32(Shape(known: [1, 2, 8, 8, 16])))
        let u = b.input("u", .f32(Shape(known: [36, 1, 32, 16])))
        let s = b.input("s", .f32(Shape(known: [16])))
        XCTAssertNoThrow(try b.emit(.winogradConv2d, [x, u, s, s], ["stride": .ints([1, 1]), "padding": .ints([1, 1])]))
        XCTAssertThrowsError(try b.emit(.winogradConv2d, [x, u, s, s], ["stride": .ints([2, 2]), "padding": .ints([1, 1])]), "stride 2")
        let u16 = b.input("u16", .f32(Shape(known: [36, 1, 16, 16])))
        XCTAssertThrowsError(try b.emit(.winogradConv2d, [x, u16, s, s], ["stride": .ints([1, 1]), "padding": .ints([1, 1])]), "32 input channels, weight for 16")
    }
}
