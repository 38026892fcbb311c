import Foundation
import GraphIR
@testable import Runtime
import XCTest

/// The decoder step's faster paths against naive references: log_softmax along the last
/// axis and the mean over middle axes give the general loops' bits at 1, 2 and 3 threads;
/// Adam and SGD split over a pool, with clipping folded in, give the bits of clamping first
/// and updating serially; a profiled step reports its phases.
final class DecoderStepTests: XCTestCase {
    let data = TestData(seed: 1313)

    /// `op(x)` on an executor with `threads` threads (tuning off: the pool's grains are fixed).
    func run(_ op: OpDef, _ x: HostTensor, _ attributes: Attributes, threads: Int) throws -> [Float] {
        let b = GraphBuilder(name: op.name)
        let v = b.input("x", TensorType(.f32, Shape(known: x.shape)))
        b.outputs = [("y", try b.emit(op, [v], attributes))]
        let ex = try Executor(graph: b.finish(), options: ExecutionOptions(training: true, threads: threads, tuner: Tuner(mode: .off)))
        guard let y = try ex.run(feeds: ["x": x], parameters: ParameterStore())["y"] else { throw RuntimeError("no output") }
        return y.floats
    }

    /// The log-softmax rule written out naively, row by row: the row maximum, the shifted
    /// exps summed in Double in order, then (x - m) - log Σ.
    func naiveLogSoftmaxRows(_ x: [Float], n: Int) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        for r in 0..<(x.count / n) {
            let row = Array(x[(r * n)..<((r + 1) * n)])
            var m = row[0]
            for v in row.dropFirst() { m = max(m, v) }
            var total = 0.0
            for v in row { total += Double(fastExp(v - m)) }
            let logTotal = Float(Foundation.log(total))
            for k in 0..<n { y[r * n + k] = (row[k] - m) - logTotal }
        }
        return y
    }

    func testLogSoftmaxLastAxisIsTheRowRuleAtAnyThreadCount() throws {
        // Rows of 1 (log_softmax 0), odd widths, the decoder's [5, 21, 190], and enough rows
        // that they are split (the pool's grain is 2^15 / width rows).
        for shape in [[1, 1], [3, 1], [7, 3], [2, 1001], [5, 21, 190], [9000, 7], [400, 190], [1, 2, 3, 5]] {
            let x = data.floats(shape, in: -30...30)
            let n = shape[shape.count - 1]
            let expected = naiveLogSoftmaxRows(x.floats, n: n)
            for threads in [1, 2, 3] {
                for axis in [-1, shape.count - 1] {
                    let y = try run(.logSoftmax, x, ["axis": .int(axis)], threads: threads)
                    XCTAssertEqual(y.map(\.bitPattern), expected.map(\.bitPattern), "log_softmax \(shape) axis \(axis), \(threads) threads")
                }
            }
            // And within float tolerance of the exact value in Double.
            let y = try run(.logSoftmax, x, ["axis": .int(-1)], threads: 2)
            for r in 0..<(x.count / n) {
                let row = (0..<n).map { Double(x.floats[r * n + $0]) }
                let m = row.max() ?? 0
                let lse = m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
                for k in 0..<n { XCTAssertEqual(Double(y[r * n + k]), row[k] - lse, accuracy: 1e-5 * max(1, abs(row[k] - lse))) }
            }
        }
    }

    /// The C row kernel on every ISA, with the values where lane order could show: ties of
    /// +0 and -0 as the maximum, a NaN first (the whole row NaN) or later (ignored by the
    /// maximum), infinities, and widths around the 16 lanes and the 8 rows side by side.
    func testLogSoftmaxRowsGiveTheRowRuleOnEveryISA() throws {
        var rows: [[Float]] = [[0, -0.0, -3, -0.0], [-0.0, 0, -1, 0], [.nan, 1, 2, 3], [1, .nan, 2, 3], [-.infinity, 0, 1, 2],
                               [1, .infinity, 2, 3], [-.infinity, -.infinity, 5, 5]]
        rows += [4, 15, 16, 17, 33, 190].map { n in data.floats([n], in: -20...20).floats }
        for row in rows {
            for count in [1, 3, 9, 17] { try assertRowRuleOnEveryISA(row, count: count) }
        }
    }

    /// `count` rows of `row`'s width (the row itself, then others of its width) through
    /// log_softmax on every ISA at 1 and 2 threads: the bits of `naiveLogSoftmaxRows` (NaN
    /// where it is NaN).
    func assertRowRuleOnEveryISA(_ row: [Float], count: Int, line: UInt = #line) throws {
        let n = row.count
        var x = row
        x += data.floats([(count - 1) * n], in: -20...20).floats
        let expected = naiveLogSoftmaxRows(x, n: n)
        try onEveryISA { isa in
            for threads in [1, 2] {
                let y = try run(.logSoftmax, HostTensor(shape: [count, n], floats: x), ["axis": .int(-1)], threads: threads)
                for (i, (a, b)) in zip(y, expected).enumerated() where !(a.isNaN && b.isNaN) && a.bitPattern != b.bitPattern {
                    XCTFail("\(isa) \(threads) threads, width \(n) row \(row.prefix(4)) x \(count): element \(i) is \(a), want \(b)", line: line)
                    break
                }
            }
        }
    }

    /// Sum over the reduced axes the naive way: each output starts at 0 and adds its inputs in
    /// row-major order of the reduced index, in Float, then times count(out) / count(x).
    func naiveMeanOverMiddle(_ x: HostTensor, first: Int, last: Int, mean: Bool) -> [Float] {
        let outer = x.shape[..<first].reduce(1, *), reduced = x.shape[first...last].reduce(1, *)
        let inner = x.shape[(last + 1)...].reduce(1, *)
        var y = [Float](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for k in 0..<reduced {
                for j in 0..<inner { y[o * inner + j] += x.floats[(o * reduced + k) * inner + j] }
            }
        }
        if mean && !y.isEmpty && x.count > 0 {
            let scale = Float(Double(y.count) / Double(x.count))
            for i in y.indices { y[i] *= scale }
        }
        return y
    }

    func testMeanAndSumOverMiddleAxesAreTheNaiveSumsAtAnyThreadCount() throws {
        // The decoder's [8, 256, 512] over the regions (split into outer rows and column
        // blocks), a partial column block, two adjacent axes, keepdims, a batch of one.
        let cases: [(shape: [Int], axes: [Int], keep: Bool)] = [
            ([8, 256, 512], [1], false), ([3, 70, 300], [1], true), ([3, 5, 7, 2], [1, 2], false),
            ([2, 3, 5], [-2], false), ([1, 513, 257], [1], false), ([4, 9, 3], [0], false), ([4, 9, 3], [0, 1], true)]
        for c in cases {
            let x = data.floats(c.shape)
            let rank = c.shape.count
            let norm = c.axes.map { $0 < 0 ? $0 + rank : $0 }
            for (op, isMean) in [(OpDef.mean, true), (OpDef.sum, false)] {
                let expected = naiveMeanOverMiddle(x, first: norm.min() ?? 0, last: norm.max() ?? 0, mean: isMean)
                for threads in [1, 2, 3] {
                    let y = try run(op, x, ["axes": .ints(c.axes), "keepdims": .bool(c.keep)], threads: threads)
                    XCTAssertEqual(y.map(\.bitPattern), expected.map(\.bitPattern), "\(op.name) \(c.shape) axes \(c.axes), \(threads) threads")
                }
            }
        }
    }

    /// Clamped gradients for the reference: `clipGradientValues` on a copy.
    func clampedCopy(_ g: [Float], _ clip: Float?) -> [Float] {
        var c = g
        if let clip { c.withUnsafeMutableBufferPointer { clipGradientValues($0, clip: clip) } }
        return c
    }

    /// Three steps of `make()` both ways on n weights: clamp then the serial update, and the
    /// clipped update over a pool of `threads`; the weights must agree bit for bit.
    func assertPooledUpdateMatches(_ make: () -> Optimizer, n: Int, clip: Float?, threads: Int, _ what: String) {
        let rng = RandomSource(seed: UInt64(n * 10 + threads))
        var serialWeights = (0..<n).map { _ in rng.nextNormal() }
        var pooledWeights = serialWeights
        let serial = make(), pooled = make()
        let pool = WorkerPool(threads: threads, tuner: Tuner(mode: .off))
        for _ in 0..<3 {
            // Values beyond the clip (and a NaN-free spread) so the clamp matters.
            let g = (0..<n).map { _ in 4 * rng.nextNormal() }
            let clamped = clampedCopy(g, clip)
            serialWeights.withUnsafeMutableBufferPointer { p in clamped.withUnsafeBufferPointer { serial.update(slot: 0, parameter: p, gradient: $0) } }
            var given = g
            pooledWeights.withUnsafeMutableBufferPointer { p in
                given.withUnsafeMutableBufferPointer { pooled.update(slot: 0, parameter: p, gradient: $0, clip: clip, pool: pool) }
            }
            serial.finishStep(); pooled.finishStep()
        }
        XCTAssertEqual(pooledWeights.map(\.bitPattern), serialWeights.map(\.bitPattern), "\(what) n=\(n) clip \(String(describing: clip)) \(threads) threads")
        XCTAssertNotEqual(pooledWeights, (0..<n).map { _ in 0 }, what)
    }

    func testAdamAndSGDSplitOverAPoolWithClippingFoldedInMatchClampThenUpdate() {
        for n in [1, 7, 1003, 20_011] {
            for threads in [1, 2, 3] {
                for clip: Float? in [nil, 1.5] {
                    assertPooledUpdateMatches({ Adam(learningRate: 1e-2, weightDecay: 0.01) }, n: n, clip: clip, threads: threads, "adam")
                    assertPooledUpdateMatches({ SGD(learningRate: 0.05) }, n: n, clip: clip, threads: threads, "sgd")
                    assertPooledUpdateMatches({ SGD(learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3) }, n: n, clip: clip, threads: threads, "sgd momentum")
                }
            }
        }
    }

    /// A step's tensors updated in one call (Adam: one split over the pool for all of them,
    /// chunks crossing tensor boundaries) give each tensor the bits of its own serial update.
    func testAdamUpdatesAllTensorsOfAStepAtOnceAsOneByOne() {
        let sizes = [1, 7, 9, 1003, 20_000, 3, 9_001]
        for threads in [1, 2, 3] {
            for clip: Float? in [nil, 0.7] {
                let rng = RandomSource(seed: UInt64(threads))
                var together = sizes.map { n in (0..<n).map { _ in rng.nextNormal() } }
                var apart = together
                let a = Adam(learningRate: 3e-3, weightDecay: 0.02), b = Adam(learningRate: 3e-3, weightDecay: 0.02)
                let pool = WorkerPool(threads: threads, tuner: Tuner(mode: .off))
                for _ in 0..<3 {
                    let grads = sizes.map { n in (0..<n).map { _ in rng.nextNormal() } }
                    for (slot, g) in grads.enumerated() {
                        let c = clampedCopy(g, clip)
                        apart[slot].withUnsafeMutableBufferPointer { p in c.withUnsafeBufferPointer { b.update(slot: slot, parameter: p, gradient: $0) } }
                    }
                    // Buffers that stay put while the call runs.
                    let ps = together.map { w -> UnsafeMutableBufferPointer<Float> in
                        let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: w.count); _ = p.initialize(from: w); return p
                    }
                    let gs = grads.indices.map { i -> UnsafeMutableBufferPointer<Float> in
                        let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: grads[i].count); _ = p.initialize(from: grads[i]); return p
                    }
                    a.update(sizes.indices.map { ParameterUpdate(slot: $0, parameter: ps[$0], gradient: gs[$0]) }, clip: clip, pool: pool)
                    together = ps.map { Array($0) }
                    ps.forEach { $0.deallocate() }; gs.forEach { $0.deallocate() }
                    a.finishStep(); b.finishStep()
                }
                for i in sizes.indices {
                    XCTAssertEqual(together[i].map(\.bitPattern), apart[i].map(\.bitPattern), "tensor \(i) (\(sizes[i])) \(threads) threads clip \(String(describing: clip))")
                }
            }
        }
    }

    /// The folded clamp keeps the rule's edge cases: values at and beyond ±clip, and NaN.
    func testFoldedClampIsClipGradientValues() {
        let g: [Float] = [-7, -5, -0.5, 0, -0.0, 3, 5, 5.0001, 1e9, -.infinity, .infinity, .nan, 1, 2, 3, 4, -9]
        let expected = clampedCopy(g, 5)
        XCTAssertEqual(g.map { clamped($0, 5) }.map(\.bitPattern), expected.map(\.bitPattern))
        XCTAssertEqual(clamped(Float(-9), nil), -9)
    }
}

extension DecoderStepTests {
    /// The rows the first test leaves out: width 1, 2 and 3 (one partial block, the max loop's
    /// missing lanes), every element -inf (the row NaN, as the rule's -inf - -inf), a NaN
    /// only at the end, denormals and ±0 alone, and vocabulary-sized widths (a scratch of 8 long
    /// rows, a block past the last full 16) on every ISA and at 1 and 2 threads.
    func testLogSoftmaxRowsAtTheEdgesGiveTheRowRuleOnEveryISA() throws {
        let tiny = Float.leastNonzeroMagnitude
        var rows: [[Float]] = [[-0.0], [0], [.infinity], [-.infinity], [.nan], [3.5], [-0.0, -0.0], [.nan, -.infinity],
                               [-.infinity, -.infinity, -.infinity], [1, 2, .nan], [tiny, -tiny, 0], [-1e30, 1e30, -0.0],
                               [Float](repeating: -.infinity, count: 37), [Float](repeating: .greatestFiniteMagnitude, count: 17)]
        rows += [1, 2, 3, 4097, 10_007].map { n in data.floats([n], in: -80...80).floats }
        for row in rows {
            for count in [1, 9] { try assertRowRuleOnEveryISA(row, count: count) }
        }
    }
}
