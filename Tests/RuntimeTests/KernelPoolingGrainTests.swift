import Foundation
import GraphIR
@testable import Runtime
import XCTest

/// The pooling loops' grain (how many planes a chunk takes) is a tuned choice: every
/// candidate, and whatever the tuner picks, must give exactly the serial result.
final class KernelPoolingGrainTests: XCTestCase {
    let data = TestData(seed: 41)

    /// (input shape, kernel, stride, padding): the CNN's pair pooling, ResNet's 3x3 stride-2
    /// pooling with padding, planes smaller and larger than a grain.
    let cases: [([Int], [Int], [Int], [Int])] = [
        ([8, 32, 28, 28], [2, 2], [2, 2], [0, 0]),
        ([2, 64, 25, 25], [3, 3], [2, 2], [1, 1]),
        ([3, 5, 130, 70], [3, 2], [1, 2], [1, 0]),
        ([1, 40, 9, 9], [2, 2], [2, 2], [0, 0]),
    ]

    func attributes(_ k: [Int], _ s: [Int], _ p: [Int]) -> Attributes {
        ["kernel": .ints(k), "stride": .ints(s), "padding": .ints(p)]
    }

    func outputShape(_ x: [Int], _ k: [Int], _ s: [Int], _ p: [Int]) -> [Int] {
        [x[0], x[1], (x[2] + 2 * p[0] - k[0]) / s[0] + 1, (x[3] + 2 * p[1] - k[1]) / s[1] + 1]
    }

    /// Runs forward and backward over `pool` with `grain` (nil: the tuner's choice).
    func pooled(_ x: HostTensor, _ dy: HostTensor, _ a: Attributes, pool: WorkerPool, grain: Int?) -> (y: [Float], dx: [Float]) {
        var xs = x.floats, dys = dy.floats
        var y = [Float](repeating: .nan, count: dy.count), dx = [Float](repeating: .nan, count: x.count)
        xs.withUnsafeMutableBytes { xb in
            dys.withUnsafeMutableBytes { dyb in
                let xv = TensorView(data: xb.baseAddress!, shape: x.shape, dtype: .f32)
                let dyv = TensorView(data: dyb.baseAddress!, shape: dy.shape, dtype: .f32)
                y.withUnsafeMutableBytes { yb in
                    maxpool2dForward(x: xv, y: TensorView(data: yb.baseAddress!, shape: dy.shape, dtype: .f32), attributes: a,
                                     pool: pool, grain: grain)
                }
                dx.withUnsafeMutableBytes { db in
                    maxpool2dBackward(dy: dyv, x: xv, dx: TensorView(data: db.baseAddress!, shape: x.shape, dtype: .f32), attributes: a,
                                      pool: pool, grain: grain)
                }
            }
        }
        return (y, dx)
    }

    func testEveryGrainEqualsTheSerialResult() {
        let pool = WorkerPool(threads: 2, tuner: Tuner(mode: .off))
        for (shape, k, s, p) in cases {
            let x = data.floats(shape), dy = data.floats(outputShape(shape, k, s, p))
            let a = attributes(k, s, p)
            let serial = pooled(x, dy, a, pool: .serial, grain: nil)
            XCTAssertFalse(serial.y.contains { $0.isNaN }, "every output written")
            for grain in poolingGrainCandidates + [1] {
                let split = pooled(x, dy, a, pool: pool, grain: grain)
                XCTAssertEqual(split.y, serial.y, "forward \(shape) k\(k) grain \(grain)")
                XCTAssertEqual(split.dx, serial.dx, "backward \(shape) k\(k) grain \(grain)")
            }
        }
    }

    /// With tuning on, the first use times the grains that cut the planes differently, keeps
    /// one (listed in the tuner's decisions, as `--profile` shows them), and the result is
    /// the serial one.
    func testTunedGrainIsRecordedAndEqualsTheSerialResult() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-pool-grain-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: dir.appendingPathComponent("tuning.json")))
        let pool = WorkerPool(threads: 2, tuner: tuner)
        let (shape, k, s, p) = cases[0]
        let x = data.floats(shape), dy = data.floats(outputShape(shape, k, s, p))
        let a = attributes(k, s, p)
        let serial = pooled(x, dy, a, pool: .serial, grain: nil)
        for _ in 0..<2 {
            let tuned = pooled(x, dy, a, pool: pool, grain: nil)
            XCTAssertEqual(tuned.y, serial.y)
            XCTAssertEqual(tuned.dx, serial.dx)
        }
        for point in ["maxpool-grain", "maxpool-backward-grain"] {
            let made = tuner.decisions.filter { $0.key.point == point }
            XCTAssertEqual(made.count, 1, point)
            guard let d = made.first else { continue }
            XCTAssertEqual(d.key.description, "\(point) 8x32x28x28 k2x2s2x2p0x0 @2")
            XCTAssertEqual(d.source, .measured, "8 images of 32 planes split differently by several grains")
            XCTAssertTrue(poolingGrainCandidates.map(String.init).contains(d.variant), d.variant)
            XCTAssertGreaterThan(d.seconds.count, 1)
        }
        // A second pool reading the same cache runs the remembered grain without timing.
        let again = Tuner(mode: .fast, cache: TuningCache(url: dir.appendingPathComponent("tuning.json")))
        XCTAssertEqual(pooled(x, dy, a, pool: WorkerPool(threads: 2, tuner: again), grain: nil).y, serial.y)
        XCTAssertEqual(again.decisions.first { $0.key.point == "maxpool-grain" }?.source, .cached)
    }

    /// The reorders to and from the blocked layout, blocked max pooling and average pooling
    /// (forward and backward, with and without the padding in the divisor): every grain gives
    /// exactly the serial result.
    func testBlockedPoolingReordersAndAveragePoolingAtEveryGrain() {
        let pool = WorkerPool(threads: 2, tuner: Tuner(mode: .off))
        for (shape, k, s, p) in [([2, 32, 25, 25], [3, 3], [2, 2], [1, 1]), ([1, 64, 9, 9], [2, 2], [2, 2], [0, 0]),
                                 ([3, 16, 30, 7], [3, 2], [1, 2], [1, 0])] {
            let x = data.floats(shape).floats
            let out = outputShape(shape, k, s, p)
            let blockedShape = [shape[0], shape[1] / 16, shape[2], shape[3], 16], blockedOut = [out[0], out[1] / 16, out[2], out[3], 16]
            let dy = data.floats(out).floats
            func reorder(_ src: [Float], _ planes: [Int], toBlocked: Bool, _ pool: WorkerPool, _ grain: Int?) -> [Float] {
                var dst = [Float](repeating: .nan, count: src.count)
                src.withUnsafeBufferPointer { a in
                    dst.withUnsafeMutableBufferPointer { b in
                        reorderBlocked(a.baseAddress!, b.baseAddress!, shape: planes, toBlocked: toBlocked, pool: pool, grain: grain)
                    }
                }
                return dst
            }
            func blockedMax(_ src: [Float], _ pool: WorkerPool, _ grain: Int?) -> [Float] {
                var xs = src, y = [Float](repeating: .nan, count: blockedOut.reduce(1, *))
                xs.withUnsafeMutableBytes { xb in
                    y.withUnsafeMutableBytes { yb in
                        blockedMaxpool2d(x: TensorView(data: xb.baseAddress!, shape: blockedShape, dtype: .f32),
                                         y: TensorView(data: yb.baseAddress!, shape: blockedOut, dtype: .f32),
                                         attributes: attributes(k, s, p), pool: pool, grain: grain)
                    }
                }
                return y
            }
            func average(_ includePad: Bool, backward: Bool, _ pool: WorkerPool, _ grain: Int?) -> [Float] {
                var a = attributes(k, s, p)
                a["count_include_pad"] = .bool(includePad)
                var xs = x, ys = backward ? dy : [Float](repeating: .nan, count: dy.count), dx = [Float](repeating: .nan, count: x.count)
                xs.withUnsafeMutableBytes { xb in
                    ys.withUnsafeMutableBytes { yb in
                        dx.withUnsafeMutableBytes { db in
                            avgpool2d(x: TensorView(data: xb.baseAddress!, shape: shape, dtype: .f32),
                                      y: TensorView(data: yb.baseAddress!, shape: out, dtype: .f32),
                                      dx: backward ? TensorView(data: db.baseAddress!, shape: shape, dtype: .f32) : nil,
                                      attributes: a, pool: pool, grain: grain)
                        }
                    }
                }
                return backward ? dx : ys
            }
            let blocked = reorder(x, shape, toBlocked: true, .serial, nil)
            XCTAssertEqual(reorder(blocked, shape, toBlocked: false, .serial, nil), x, "the reorders are inverse")
            let maxima = blockedMax(blocked, .serial, nil)
            XCTAssertFalse(maxima.contains { $0.isNaN }, "every output written")
            let averages = [false, true].flatMap { inc in [false, true].map { average(inc, backward: $0, .serial, nil) } }
            XCTAssertFalse(averages.joined().contains { $0.isNaN }, "every output written")
            for grain in poolingGrainCandidates + [1] {
                XCTAssertEqual(reorder(x, shape, toBlocked: true, pool, grain), blocked, "to blocked \(shape) grain \(grain)")
                XCTAssertEqual(reorder(blocked, shape, toBlocked: false, pool, grain), x, "from blocked \(shape) grain \(grain)")
                XCTAssertEqual(blockedMax(blocked, pool, grain), maxima, "blocked max pooling \(shape) grain \(grain)")
                let split = [false, true].flatMap { inc in [false, true].map { average(inc, backward: $0, pool, grain) } }
                XCTAssertEqual(split, averages, "average pooling \(shape) grain \(grain)")
            }
        }
    }
}
