import Foundation
import Frontend
import GraphIR
import Passes
@testable import Runtime
import XCTest

/// Each kind of fusion can be left out (what `--tune` does when it measures one slower), the
/// other kinds are then made as before, and the graph computes what the fully fused one does.
final class FusionKindTests: XCTestCase {
    func counts(_ context: PassContext) -> [FusionKind: Int] {
        var out: [FusionKind: Int] = [:]
        for kind in FusionKind.allCases {
            out[kind] = context.statistics.filter { $0.pass == kind.pass }.reduce(0) { $0 + $1[kind.counter] }
        }
        return out
    }

    func lowered(_ file: String) throws -> Graph {
        let path = FusionEquivalenceTests.repository.appendingPathComponent("graphs/\(file)").path
        return try Frontend.lower(path: path, options: FrontendOptions(mode: .train))
    }

    func testEachKindCanBeLeftOut() throws {
        for file in ["cnn.swiftgraph", "caption_lstm.swiftgraph", "caption_attention.swiftgraph"] {
            let model = try lowered(file)
            let all = PassContext(options: PassOptions(verifyEach: true))
            let (forward, reference) = try Pipelines.compileForTraining(model, all)
            let full = counts(all)
            let fired = FusionKind.allCases.filter { (full[$0] ?? 0) > 0 }
            XCTAssertGreaterThan(fired.count, 1, file)
            let store = ParameterStore()
            try store.initialise(from: forward, seed: 3)
            let feeds = randomFeeds(forward, size: 2, seed: 11)
            let expected = try Executor(graph: reference, options: ExecutionOptions(training: true, seed: 5)).run(feeds: feeds, parameters: store)
            for kind in fired {
                var options = PassOptions(verifyEach: true)
                options.disabledFusions = [kind]
                let context = PassContext(options: options)
                let (_, training) = try Pipelines.compileForTraining(model, context)
                let left = counts(context)
                XCTAssertEqual(left[kind], 0, "\(file) without \(kind)")
                // The CNN's pooled weight gradient reads the relu-folded pool gradient (pool-gradient);
                // its recomputation needs the fused convolution (conv-epilogue) and that pooled
                // weight gradient; without attention-scores' accumulations there is no chain for
                // attention-grad-sums.
                let prerequisites: Set<FusionKind> = [.convEpilogue, .poolGradient, .pooledWeightGradient]
                for other in fired where other != kind && !(kind == .lstmCell && other == .elementwise)
                    && !(kind == .poolGradient && other == .pooledWeightGradient)
                    && !(prerequisites.contains(kind) && other == .recomputedPooledConvolution)
                    && !(kind == .attentionScores && other == .attentionGradSums) {
                    XCTAssertGreaterThan(left[other] ?? 0, 0, "\(file) without \(kind): \(other) still fused")
                }
                let got = try Executor(graph: training, options: ExecutionOptions(training: true, seed: 5)).run(feeds: feeds, parameters: store)
                for (name, a) in expected {
                    guard let b = got[name] else { XCTFail("\(file) without \(kind): no output \(name)"); continue }
                    let scale = max(1, a.floats.map(abs).max() ?? 1)
                    let worst = zip(a.floats, b.floats).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(worst, 2e-5 * scale, "\(file) without \(kind): \(name)")
                }
            }
        }
    }
}
