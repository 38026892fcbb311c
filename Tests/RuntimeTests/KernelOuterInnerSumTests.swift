import GraphIR
@testable import Runtime
import XCTest

/// `sum` / `mean` over leading and trailing axes around kept ones (a convolution's bias
/// gradient, [N, C, H, W] over N, H, W), split over the pool by kept outputs: the bits of the
/// general strided-row loop at 1, 2 and 3 threads, and within float tolerance of the sum in
/// Double.
final class KernelOuterInnerSumTests: XCTestCase {
    let data = TestData(seed: 1414)

    func run(_ op: OpDef, _ x: HostTensor, _ attributes: Attributes, threads: Int) throws -> HostTensor {
        let b = GraphBuilder(name: op.name)
        let v = b.input("x", TensorType(.f32, Shape(known: x.shape)))
        b.outputs = [("y", try b.emit(op, [v], attributes))]
        let ex = try Executor(graph: b.finish(), options: ExecutionOptions(training: true, threads: threads, tuner: Tuner(mode: .off)))
        guard let y = try ex.run(feeds: ["x": x], parameters: ParameterStore())["y"] else { throw RuntimeError("no output") }
        return y
    }

    /// The general loop (`sumReduce` over strided rows), times the mean's scale.
    func generalSum(_ x: HostTensor, axes: [Int], mean: Bool, outCount: Int) -> [Float] {
        let rank = x.shape.count
        var xs = x.floats
        var y = [Float](repeating: 0, count: outCount)
        let outShape = x.shape.enumerated().map { i, d in axes.contains { normalizedAxis($0, rank: rank) == i } ? 1 : d }
        xs.withUnsafeMutableBytes { xb in
            y.withUnsafeMutableBytes { yb in
                sumReduce(TensorView(data: xb.baseAddress!, shape: x.shape, dtype: .f32), into: TensorView(data: yb.baseAddress!, shape: outShape, dtype: .f32)) { p in
                    writeReducedStrides(of: x.shape, isReduced: { i in axes.contains { normalizedAxis($0, rank: rank) == i } }, into: p)
                }
            }
        }
        if mean && outCount > 0 && x.count > 0 {
            let scale = Float(Double(outCount) / Double(x.count))
            for i in y.indices { y[i] *= scale }
        }
        return y
    }

    func testOuterAndInnerSumsAreTheGeneralLoopsBitsAtAnyThreadCount() throws {
        let cases: [(shape: [Int], axes: [Int], keep: Bool, split: Bool)] = [
            ([64, 16, 28, 28], [0, 2, 3], false, true), ([8, 32, 12, 12], [0, 2, 3], true, true), ([3, 5, 7], [0, 2], false, true),
            ([2, 3, 4, 5], [0, 3], false, true), ([1, 4, 1, 6], [0, 2, 3], false, true), ([4, 3, 2], [-1], false, true),
            ([3, 2, 1, 5, 7], [0, 3, 4], false, true), ([2, 1, 7], [0, 2], false, false), ([3, 4, 1], [0, 2], false, false),
            ([3, 4, 5], [1], false, false), ([0, 4, 5], [0, 2], false, true)]
        for c in cases {
            XCTAssertEqual(outerAndInnerAxesSplit(c.shape, reduced: c.axes) != nil, c.split, "\(c.shape) \(c.axes)")
            let x = data.floats(c.shape)
            let rank = c.shape.count
            let kept = c.shape.enumerated().filter { i, _ in !c.axes.contains { normalizedAxis($0, rank: rank) == i } }.map(\.element)
            let outCount = kept.reduce(1, *)
            for (op, isMean) in [(OpDef.mean, true), (OpDef.sum, false)] {
                let expected = generalSum(x, axes: c.axes, mean: isMean, outCount: outCount)
                for threads in [1, 2, 3] {
                    let y = try run(op, x, ["axes": .ints(c.axes), "keepdims": .bool(c.keep)], threads: threads)
                    XCTAssertEqual(y.floats.map(\.bitPattern), expected.map(\.bitPattern), "\(op.name) \(c.shape) axes \(c.axes), \(threads) threads")
                }
            }
            // And the sum itself, in Double.
            let y = try run(.sum, x, ["axes": .ints(c.axes), "keepdims": .bool(false)], threads: 2).floats
            var exact = [Double](repeating: 0, count: outCount)
            let strides = (0..<rank).map { c.shape[($0 + 1)...].reduce(1, *) }
            let keptAxes = (0..<rank).filter { i in !c.axes.contains { normalizedAxis($0, rank: rank) == i } }
            for flat in 0..<x.count {
                var o = 0
                for a in keptAxes { o = o * c.shape[a] + (flat / strides[a]) % c.shape[a] }
                exact[o] += Double(x.floats[flat])
            }
            for (got, want) in zip(y, exact) { XCTAssertEqual(Double(got), want, accuracy: 1e-4 * max(1, abs(want)), "\(c.shape) \(c.axes)") }
        }
    }
}
