import Foundation
import GraphIR
@testable import Runtime
import Synchronization
import XCTest

/// `WorkerPool.parallelForByCore` runs every block of its split exactly once, whichever
/// thread claims it, and the kernels that split by core (attention's ops, the per-example
/// mat-vecs of a batched product) give the loops' results with the same bits at 1, 2 and 3
/// threads.
final class ByCoreSplitTests: XCTestCase {
    let data = TestData(seed: 71)

    func testEveryBlockRunsOnceAsTheContiguousSplit() {
        for threads in [1, 2, 3] {
            let pool = WorkerPool(threads: threads, tuner: Tuner(mode: .off))
            for count in [0, 1, 2, 3, 5, 8, 101] {
                let expected = pool.chunks(count, perThread: 1)
                for _ in 0..<40 {
                    let seen = Mutex<[Range<Int>]>([])
                    pool.parallelForByCore(count) { range in seen.withLock { $0.append(range) } }
                    let ranges = seen.withLock { $0 }.sorted { $0.lowerBound < $1.lowerBound }
                    let what = "\(threads) threads, \(count) items"
                    if count == 0 { XCTAssertEqual(ranges, [], what); continue }
                    XCTAssertEqual(ranges, (0..<expected).map { WorkerPool.range($0, of: expected, count: count) }, what)
                }
            }
        }
    }

    func testAWholeGrainStaysInOneBlock() {
        let pool = WorkerPool(threads: 3, tuner: Tuner(mode: .off))
        let seen = Mutex<[Range<Int>]>([])
        pool.parallelForByCore(8, grain: 5) { range in seen.withLock { $0.append(range) } }
        XCTAssertEqual(seen.withLock { $0 }, [0..<8])
    }

    /// `op(inputs)` on an executor with `threads` threads.
    func run(_ op: OpDef, _ inputs: [HostTensor], _ attributes: Attributes = Attributes(), threads: Int) throws -> [Float] {
        try runOp(op, inputs, attributes, seed: 3, threads: threads).floats
    }

    /// Within `tol` of `expected` (relative to its largest value) at 1, 2 and 3 threads, with
    /// the same bits at each.
    func assertSameBitsAtEveryThreadCount(_ op: OpDef, _ inputs: [HostTensor], _ attributes: Attributes = Attributes(),
                                          expected: [Double], tol: Double, _ what: String, line: UInt = #line) throws {
        let one = try run(op, inputs, attributes, threads: 1)
        XCTAssertEqual(one.count, expected.count, what, line: line)
        let scale = max(1, expected.map(abs).max() ?? 1)
        let worst = zip(one, expected).map { abs(Double($0) - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tol * scale, "\(what) against the loop", line: line)
        for threads in [2, 3] {
            XCTAssertEqual(try run(op, inputs, attributes, threads: threads).map(\.bitPattern), one.map(\.bitPattern),
                           "\(what), \(threads) threads against 1", line: line)
        }
    }

    /// On every instruction set the CPU has: batches of 1 (rows split instead), 2, 3 and 7
    /// (more and fewer examples than threads), large enough to be split, one too small to
    /// be, and widths with and without a tail after the 16-lane blocks.
    func testAttentionScoreKernelsOnEveryInstructionSetAndThreadCount() throws {
        try onEveryISA { try attentionScoreKernels("\($0)") }
    }

    func attentionScoreKernels(_ isa: String) throws {
        for (batch, regions, width) in [(1, 2000, 20), (2, 9, 37), (2, 300, 16), (3, 400, 37), (7, 33, 100)] {
            let enc = data.floats([batch, regions, width]), dec = data.floats([batch, width])
            let w = data.floats([1, width]), dy = data.floats([batch, regions, 1]), acc = data.floats([batch, regions, width])
            var scores = [Double](repeating: 0, count: batch * regions)
            var grad = [Double](repeating: 0, count: batch * regions * width)
            var dw = [Double](repeating: 0, count: width), dd = [Double](repeating: 0, count: batch * width)
            for b in 0..<batch {
                for n in 0..<regions {
                    let row = b * regions + n
                    for a in 0..<width {
                        let p = Double(enc.floats[row * width + a]) + Double(dec.floats[b * width + a])
                        scores[row] += Double(w.floats[a]) * max(p, 0)
                        grad[row * width + a] = p > 0 ? Double(dy.floats[row]) * Double(w.floats[a]) : 0
                        dw[a] += Double(dy.floats[row]) * max(p, 0)
                        dd[b * width + a] += grad[row * width + a]
                    }
                }
            }
            let what = "\(isa) B=\(batch) N=\(regions) A=\(width)"
            try assertSameBitsAtEveryThreadCount(.additiveScores, [enc, dec, w], expected: scores, tol: 1e-5, "additive_scores \(what)")
            try assertSameBitsAtEveryThreadCount(.additiveScoresGrad, [dy, enc, dec, w], expected: grad, tol: 1e-6,
                                                 "additive_scores_grad \(what)")
            try assertSameBitsAtEveryThreadCount(.additiveScoresGrad, [dy, enc, dec, w, acc],
                                                 expected: zip(grad, acc.floats).map { $0 + Double($1) }, tol: 1e-6,
                                                 "additive_scores_grad with acc \(what)")
            try assertSameBitsAtEveryThreadCount(.additiveScoresDecGrad, [dy, enc, dec, w], expected: dd, tol: 1e-5,
                                                 "additive_scores_dec_grad \(what)")
            try assertSameBitsAtEveryThreadCount(.additiveScoresWeightGrad, [dy, enc, dec], expected: dw, tol: 1e-5,
                                                 "additive_scores_weight_grad \(what)")
        }
    }

    /// The per-example mat-vecs of an attention step: context = alphaᵀ F ([B, N, 1] with
    /// transpose_a against [B, N, E]) and its gradient F d ([B, N, E] against [B, 1, E] with
    /// transpose_b).
    func testBatchedMatrixVectorProductsAtEveryThreadCount() throws {
        for (batch, regions, width) in [(1, 30, 20), (3, 200, 170), (8, 256, 64)] {
            let f = data.floats([batch, regions, width]), alpha = data.floats([batch, regions, 1])
            let d = data.floats([batch, 1, width])
            var context = [Double](repeating: 0, count: batch * width), dAlpha = [Double](repeating: 0, count: batch * regions)
            for b in 0..<batch {
                for n in 0..<regions {
                    for e in 0..<width {
                        let x = Double(f.floats[(b * regions + n) * width + e])
                        context[b * width + e] += Double(alpha.floats[b * regions + n]) * x
                        dAlpha[b * regions + n] += x * Double(d.floats[b * width + e])
                    }
                }
            }
            let what = "B=\(batch) N=\(regions) E=\(width)"
            try assertSameBitsAtEveryThreadCount(.matmul, [alpha, f], ["transpose_a": .bool(true)], expected: context, tol: 1e-5,
                                                 "alphaᵀ F \(what)")
            try assertSameBitsAtEveryThreadCount(.matmul, [f, d], ["transpose_b": .bool(true)], expected: dAlpha, tol: 1e-5,
                                                 "F dᵀ \(what)")
        }
    }
}
