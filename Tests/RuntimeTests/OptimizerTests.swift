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
