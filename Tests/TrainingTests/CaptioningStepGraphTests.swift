import Frontend
import GraphIR
import XCTest
@testable import Training

/// Beam search runs the step graphs with the caption models' weights, by name: the two must
/// declare exactly the same parameters with the same shapes.
final class CaptioningStepGraphTests: XCTestCase {
    func parameters(_ path: String, _ mode: Mode) throws -> [String: String] {
        let g = try ModelLoading.load(path, options: FrontendOptions(mode: mode))
        var out: [String: String] = [:]
        for v in g.parameters { out[g[v].name ?? "?"] = "\(g[v].type)" }
        return out
    }

    func testStepGraphsDeclareTheModelsWeights() throws {
        for model in ["caption_lstm", "caption_attention"] {
            let path = Q3Support.repository.appendingPathComponent("graphs/\(model).swiftgraph").path
            let step = BeamDecoder.stepFile(for: path)
            XCTAssertTrue(step.hasSuffix("graphs/\(model)_step.swiftgraph"), step)
            let trained = try parameters(path, .train)
            XCTAssertEqual(try parameters(step, .infer), trained, model)
            XCTAssertEqual(try parameters(path, .infer), trained, "\(model): infer mode reads the trained weights")
        }
    }
}
