import Foundation
@testable import Runtime
import XCTest

/// The kernels' worker pool: every index runs exactly once, chunks are the documented
/// contiguous pieces, nested calls run inline, and pools start and stop cleanly.
final class WorkerPoolTests: XCTestCase {
    func testEveryIndexRunsExactlyOnceInItsChunk() {
        for threads in [1, 2, 3, 5] {
            let pool = WorkerPool(threads: threads)
            for count in [0, 1, 2, 3, 7, 64, 1000, 4097] {
                for grain in [1, 3, 100] {
                    // 16 per thread: more chunks than one job's claim bits, claimed in order instead.
                    for perThread in [1, 4, 16] {
                        let chunks = pool.chunks(count, grain: grain, perThread: perThread)
                        XCTAssertLessThanOrEqual(chunks, max(1, threads * perThread))
                        if threads > 1 && count >= grain * threads * perThread { XCTAssertEqual(chunks, threads * perThread) }
                        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(count, 1))
                        let seen = UnsafeMutableBufferPointer<Int>.allocate(capacity: chunks)
                        let ranges = UnsafeMutableBufferPointer<Range<Int>>.allocate(capacity: chunks)
                        hits.initialize(repeating: 0); seen.initialize(repeating: 0); ranges.initialize(repeating: 0..<0)
                        defer { hits.deallocate(); seen.deallocate(); ranges.deallocate() }
                        // Worker threads only write memory; the test thread asserts.
                        pool.parallelFor(count, grain: grain, perThread: perThread) { chunk, range in
                            seen[chunk] += 1
                            ranges[chunk] = range
                            for i in range { hits[i] += 1 }
                        }
                        let what = "threads \(threads), count \(count), grain \(grain), perThread \(perThread)"
                        XCTAssertEqual(Array(hits.prefix(count)), [Int](repeating: 1, count: count), what)
                        XCTAssertEqual(Array(seen), [Int](repeating: count > 0 ? 1 : 0, count: chunks), what)
                        if count > 0 {
                            XCTAssertEqual(Array(ranges), (0..<chunks).map { WorkerPool.range($0, of: chunks, count: count) }, what)
                        }
                    }
                }
            }
        }
    }

    /// Each thread's own run of a job's chunks: the runs of the pool's threads tile the chunks in
    /// order, a CPU past the width wraps round, and an unknown CPU takes the first run.
    func testOwnChunksTileTheChunksByCore() {
        for width in 1...4 {
            for chunks in [1, 2, 3, 8, 13] {
                var next = 0
                for cpu in 0..<width {
                    let own = WorkerPool.ownChunks(cpu: cpu, width: width, chunks: chunks)
                    XCTAssertEqual(own.lowerBound, next, "width \(width), chunks \(chunks), cpu \(cpu)")
                    XCTAssertEqual(WorkerPool.ownChunks(cpu: cpu + width, width: width, chunks: chunks), own)
                    next = own.upperBound
                }
                XCTAssertEqual(next, chunks)
                XCTAssertEqual(WorkerPool.ownChunks(cpu: -1, width: width, chunks: chunks),
                               WorkerPool.ownChunks(cpu: 0, width: width, chunks: chunks))
            }
        }
        // Two threads, eight chunks (four per thread): CPU 1 takes the second half.
        XCTAssertEqual(WorkerPool.ownChunks(cpu: 1, width: 2, chunks: 8), 4..<8)
    }

    /// Thousands of jobs back to back, of 2 to 48 chunks: each chunk runs exactly once and
    /// before its job returns, so no thread late from one job claims a chunk of the next (the
    /// claim words carry the job's generation).
    func testBackToBackJobsRunEachChunkOnceBeforeReturning() {
        for threads in [2, 3] {
            let pool = WorkerPool(threads: threads, tuner: Tuner(mode: .off))
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: 48)
            let late = UnsafeMutablePointer<Int>.allocate(capacity: 1)
            defer { hits.deallocate(); late.deallocate() }
            late.pointee = 0
            var wrong = 0
            for job in 0..<3000 {
                let chunks = 2 + job % 47
                hits.initialize(repeating: 0)
                var returned = false
                withUnsafeMutablePointer(to: &returned) { returned in
                    pool.parallelFor(chunks * 10, grain: 10, perThread: 48) { chunk, _ in
                        if returned.pointee { late.pointee += 1 }
                        hits[chunk] += 1
                    }
                    returned.pointee = true
                }
                if Array(hits.prefix(chunks)) != [Int](repeating: 1, count: chunks) { wrong += 1 }
            }
            XCTAssertEqual(wrong, 0, "\(threads) threads: jobs with a chunk run other than once")
            XCTAssertEqual(late.pointee, 0, "\(threads) threads: chunks run after their job returned")
        }
    }

    func testRangesTileTheCountInOrder() {
        for count in [0, 1, 5, 17, 100] {
            for chunks in 1...7 {
                var next = 0
                for c in 0..<chunks {
                    let r = WorkerPool.range(c, of: chunks, count: count)
                    XCTAssertEqual(r.lowerBound, next)
                    XCTAssertLessThanOrEqual(r.count, count / chunks + 1)
                    next = r.upperBound
                }
                XCTAssertEqual(next, count)
            }
        }
    }

    /// A kernel's per-image GEMM asks the pool again from inside a chunk: that must run
    /// inline (one chunk) rather than wait for threads that are busy with the outer job.
    func testNestedCallsRunInline() {
        let pool = WorkerPool(threads: 3)
        let outer = 6, inner = 50
        let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: outer * inner)
        let innerChunks = UnsafeMutableBufferPointer<Int>.allocate(capacity: outer)
        hits.initialize(repeating: 0); innerChunks.initialize(repeating: 0)
        defer { hits.deallocate(); innerChunks.deallocate() }
        pool.parallelFor(outer) { _, range in
            for o in range {
                innerChunks[o] = pool.chunks(inner)
                pool.parallelFor(inner) { chunk, r in
                    for i in r { hits[o * inner + i] += 1 + chunk }
                }
            }
        }
        XCTAssertEqual(Array(innerChunks), [Int](repeating: 1, count: outer))
        XCTAssertEqual(Array(hits), [Int](repeating: 1, count: outer * inner))
        XCTAssertGreaterThan(pool.chunks(inner), 1, "the pool is free again after the outer job")
    }

    /// Many back-to-back jobs (workers awake) and jobs after idle periods long enough for
    /// the workers to sleep; per-chunk partial sums combined in chunk order.
    func testManyJobsGiveTheSameSums() {
        let pool = WorkerPool(threads: 2)
        let n = 10_007
        let values = (0..<n).map { Float(($0 * 7919) % 1000) * 0.001 }
        let partials = UnsafeMutableBufferPointer<Float>.allocate(capacity: pool.chunks(n))
        defer { partials.deallocate() }
        func sum() -> Float {
            let chunks = pool.chunks(n)
            pool.parallelFor(n) { chunk, range in
                var s: Float = 0
                for i in range { s += values[i] }
                partials[chunk] = s
            }
            return (0..<chunks).reduce(Float(0)) { $0 + partials[$1] }
        }
        let first = sum()
        var serial: Float = 0
        for c in 0..<pool.chunks(n) {
            var s: Float = 0
            for i in WorkerPool.range(c, of: pool.chunks(n), count: n) { s += values[i] }
            serial += s
        }
        XCTAssertEqual(first.bitPattern, serial.bitPattern, "chunks are summed in order")
        for round in 0..<2000 { XCTAssertEqual(sum().bitPattern, first.bitPattern, "round \(round)") }
        usleep(2000)   // longer than the workers poll: they sleep and must be woken
        XCTAssertEqual(sum().bitPattern, first.bitPattern)
    }

    func testPoolsStartAndStop() {
        for threads in 1...4 {
            for _ in 0..<20 {
                let pool = WorkerPool(threads: threads)
                XCTAssertEqual(pool.width, threads)
                var total = 0
                let box = UnsafeMutableBufferPointer<Int>.allocate(capacity: pool.chunks(100))
                pool.parallelFor(100) { chunk, range in box[chunk] = range.count }
                for c in 0..<pool.chunks(100) { total += box[c] }
                box.deallocate()
                XCTAssertEqual(total, 100)
            }
        }
    }
}
