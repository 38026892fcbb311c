import Foundation
import XCTest
@testable import Runtime
import GraphIR

/// graphc's optimisers against trajectories recorded from torch.optim (Fixtures/).
final class OptimizerTests: XCTestCase {
    struct Fixture: Decodable {
        let initial: [Float]
        let gradients: [[Float]]
        let trajectories: [String: [[Float]]]
    }

    func fixture() throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/optimizer_trajectories.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    func check(_ name: String, _ opt: Optimizer, tolerance: Float = 2e-6) throws {
        let f = try fixture()
        guard let expected = f.trajectories[name] else { return XCTFail("no trajectory \(name)") }
        var p = f.initial
        for (step, g) in f.gradients.enumerated() {
            p.withUnsafeMutableBufferPointer { pb in
                g.withUnsafeBufferPointer { gb in opt.update(slot: 0, parameter: pb, gradient: gb) }
            }
            opt.finishStep()
            for i in p.indices {
                XCTAssertEqual(p[i], expected[step][i], accuracy: tolerance * max(1, abs(expected[step][i])),
                               "\(name) step \(step + 1) element \(i)")
            }
        }
    }

    /// The eight-lane loop and the one-element tail compute the same thing: a 1,003-element
    /// tensor (vector lanes plus a tail) is updated exactly as 1,003 one-element tensors.
    func testAdamVectorLanesMatchOneElementUpdates() {
        let n = 1003
        let rng = RandomSource(seed: 7)
        var whole = (0..<n).map { _ in rng.nextNormal() }
        var single = whole
        let together = Adam(learningRate: 1e-2, weightDecay: 0.01), apart = Adam(learningRate: 1e-2, weightDecay: 0.01)
        for _ in 0..<3 {
            let g = (0..<n).map { _ in rng.nextNormal() }
            whole.withUnsafeMutableBufferPointer { pb in g.withUnsafeBufferPointer { together.update(slot: 0, parameter: pb, gradient: $0) } }
            single.withUnsafeMutableBufferPointer { pb in
                g.withUnsafeBufferPointer { gb in
                    for i in 0..<n {
                        apart.update(slot: i, parameter: UnsafeMutableBufferPointer(rebasing: pb[i..<(i + 1)]),
                                     gradient: UnsafeBufferPointer(rebasing: gb[i..<(i + 1)]))
                    }
                }
            }
            together.finishStep(); apart.finishStep()
        }
        XCTAssertEqual(whole, single)
        XCTAssertNotEqual(whole[0], 0)
    }

    /// Several tensors updated in one pooled call (each split into the pool's chunks, with
    /// clipping) give the same bits as each tensor updated alone on one thread, at 1-3 threads.
    func testAdamPooledUpdateOfManyTensorsMatchesSerialUpdates() {
        let sizes = [1024 * 100 + 5, 1024, 3, 0, 190 * 256, 17]
        let rng = RandomSource(seed: 11)
        let start = sizes.map { n in (0..<n).map { _ in rng.nextNormal() } }
        let grads = (0..<3).map { _ in sizes.map { n in (0..<n).map { _ in 8 * rng.nextNormal() } } }
        func run(_ pool: WorkerPool?) -> [[Float]] {
            let opt = Adam(learningRate: 1e-2, weightDecay: 0.01)
            var p = start
            for g in grads {
                let pp = p.indices.map { i in UnsafeMutableBufferPointer<Float>.allocate(capacity: p[i].count) }
                let gp = g.indices.map { i in UnsafeMutableBufferPointer<Float>.allocate(capacity: g[i].count) }
                defer { (pp + gp).forEach { $0.deallocate() } }
                for i in p.indices { _ = pp[i].initialize(from: p[i]); _ = gp[i].initialize(from: g[i]) }
                if let pool {
                    opt.update(p.indices.map { ParameterUpdate(slot: $0, parameter: pp[$0], gradient: gp[$0]) }, clip: 5, pool: pool)
                } else {
                    for i in p.indices { opt.update(slot: i, parameter: pp[i], gradient: gp[i], clip: 5, pool: .serial) }
                }
                opt.finishStep()
                p = pp.map { Array($0) }
            }
            return p
        }
        let serial = run(nil)
        XCTAssertNotEqual(serial[0], start[0])
        for threads in 1...3 {
            XCTAssertEqual(run(WorkerPool(threads: threads, tuner: Tuner(mode: .off))), serial, "\(threads) threads")
        }
    }

    func testSGD() throws { try check("sgd", SGD(learningRate: 0.1)) }
    func testSGDWeightDecay() throws { try check("sgd_wd", SGD(learningRate: 0.1, weightDecay: 0.01)) }
    func testSGDMomentum() throws { try check("sgd_momentum", SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0.001)) }
    func testAdam() throws { try check("adam", Adam(learningRate: 4e-4)) }
    func testAdamWeightDecay() throws { try check("adam_wd", Adam(learningRate: 1e-2, weightDecay: 0.1)) }

    func testClipGradientValues() {
        var g: [Float] = [-7, -5, -0.5, 0, 3, 5.0001, 1e9]
        g.withUnsafeMutableBufferPointer { clipGradientValues($0, clip: 5) }
        XCTAssertEqual(g, [-5, -5, -0.5, 0, 3, 5, 5])
    }
}
