import GraphIR
@testable import Runtime
import XCTest

/// The convolution choice points time only the forms that take the shape: a form that would
/// fall back to another (and so time it twice under its own name, and cache that name) is not
/// offered.
final class ConvolutionCandidatesTests: XCTestCase {
    let data = TestData(seed: 77)

    /// The variants the tuner timed at `point` while `body` ran with a measuring pool.
    func timed(_ point: String, _ body: (WorkerPool) -> Void) throws -> [String] {
        let tuner = Tuner(mode: .fast)
        body(WorkerPool(threads: 2, tuner: tuner))
        let decision = try XCTUnwrap(tuner.decisions.first { $0.key.point == point })
        XCTAssertEqual(decision.source, .measured)
        return decision.seconds.map(\.variant)
    }

    /// conv2d_grad_input of x [2, c, 9, 9], weight [16, c, 3, 3], stride s, padding 1.
    func gradInputVariants(c: Int, s: Int) throws -> [String] {
        let o = 16, ohw = (9 + 2 - 3) / s + 1
        var dy = data.floats([2, o, ohw, ohw]).floats, w = data.floats([o, c, 3, 3]).floats
        var dx = [Float](repeating: 0, count: 2 * c * 81)
        let attributes: Attributes = ["stride": .ints([s, s]), "padding": .ints([1, 1])]
        return try timed("conv2d-grad-input") { pool in
            dy.withUnsafeMutableBytes { d in w.withUnsafeMutableBytes { wb in dx.withUnsafeMutableBytes { x in
                conv2dGradInput(dy: TensorView(data: d.baseAddress!, shape: [2, o, ohw, ohw], dtype: .f32),
                                weight: TensorView(data: wb.baseAddress!, shape: [o, c, 3, 3], dtype: .f32),
                                dx: TensorView(data: x.baseAddress!, shape: [2, c, 9, 9], dtype: .f32),
                                attributes: attributes, workspace: Workspace(), pool: pool)
            } } }
        }
    }

    func testGradInputOffersDirectOnlyWhereTheBlockedKernelTakesTheShape() throws {
        XCTAssertEqual(try gradInputVariants(c: 16, s: 1), ["per-image", "stacked", "direct", "winograd"])
        XCTAssertEqual(try gradInputVariants(c: 16, s: 2), ["per-image", "stacked"], "stride 2: no direct or Winograd input gradient")
        XCTAssertEqual(try gradInputVariants(c: 3, s: 1), ["per-image", "stacked", "winograd"],
                       "3 channels: not a 16-channel block (Winograd pads channels)")
    }

    /// conv2d_grad_weight of x [2, c, 8, 8], a 3 x kw kernel, 8 output channels, padding 1.
    func gradWeightVariants(c: Int, kw: Int) throws -> [String] {
        let o = 8, ow = 8 + 2 - kw + 1
        var dy = data.floats([2, o, 8, ow]).floats, x = data.floats([2, c, 8, 8]).floats
        var dw = [Float](repeating: 0, count: o * c * 3 * kw)
        let attributes: Attributes = ["stride": .ints([1, 1]), "padding": .ints([1, 1])]
        return try timed("conv2d-grad-weight") { pool in
            dy.withUnsafeMutableBytes { d in x.withUnsafeMutableBytes { xb in dw.withUnsafeMutableBytes { wb in
                conv2dGradWeight(dy: TensorView(data: d.baseAddress!, shape: [2, o, 8, ow], dtype: .f32),
                                 x: TensorView(data: xb.baseAddress!, shape: [2, c, 8, 8], dtype: .f32),
                                 dw: TensorView(data: wb.baseAddress!, shape: [o, c, 3, kw], dtype: .f32),
                                 attributes: attributes, workspace: Workspace(), pool: pool)
            } } }
        }
    }

    func testGradWeightOffersRowsOnlyForFewChannelsAndNarrowKernels() throws {
        XCTAssertEqual(try gradWeightVariants(c: 3, kw: 3), ["per-image", "stacked", "direct", "rows", "winograd"])
        XCTAssertEqual(try gradWeightVariants(c: 5, kw: 3), ["per-image", "stacked", "direct", "winograd"], "5 channels")
        XCTAssertEqual(try gradWeightVariants(c: 1, kw: 9), ["per-image", "stacked", "direct"], "9 kernel columns: no rows, no Winograd")
    }
}
