import Foundation
import Frontend
import GraphIR
import Passes
import XCTest
@testable import Runtime

/// graphs/resnet18.swiftgraph against an independent reference: the same network written in
/// plain PyTorch (Fixtures/make_resnet18_reference.py), the same deterministic weights and
/// input, one 64x64 image (the graph's 500x500 input line is substituted), eval-mode
/// BatchNorm. The fixture holds torch's output; the weights are regenerated here.
final class EncoderNumericsTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The recipe of make_resnet18_reference.py: frac(sin(12.9898 j + phase) * 43758.5453).
    static func uniform01(_ count: Int, _ name: String) -> [Double] {
        let phase = 0.1 * Double(name.utf8.reduce(0) { $0 + Int($1) }) + Double(name.utf8.count)
        return (0..<count).map { j in
            let x = sin(12.9898 * Double(j) + phase) * 43758.5453
            return x - x.rounded(.down)
        }
    }

    static func values(_ name: String, _ shape: [Int]) -> [Float] {
        let u = uniform01(shape.reduce(1, *), name)
        if name.hasSuffix("running_mean") { return u.map { Float(0.1 * (2 * $0 - 1)) } }
        if name.hasSuffix("running_var") { return u.map { Float(0.5 + $0) } }
        if shape.count == 4 {
            let s = 3.0.squareRoot() * (2.0 / Double(shape[1] * shape[2] * shape[3])).squareRoot()
            return u.map { Float((2 * $0 - 1) * s) }
        }
        if name.hasSuffix("weight") { return u.map { Float(0.8 + 0.4 * $0) } }
        return u.map { Float(0.2 * (2 * $0 - 1)) }
    }

    /// graphs/resnet18.swiftgraph's features of one `size`x`size` image (the input line
    /// substituted) compiled in `context`, with the fixture's weights and input recipe; and the
    /// parameter count.
    static func features(size: Int, _ context: PassContext) throws -> (HostTensor, parameters: Int) {
        let source = try String(contentsOf: Self.repository.appendingPathComponent("graphs/resnet18.swiftgraph"), encoding: .utf8)
        let line = "input(\"image\", [batch, 3, 500, 500])"
        XCTAssertTrue(source.contains(line), "graphs/resnet18.swiftgraph no longer declares \(line)")
        let small = source.replacingOccurrences(of: line, with: "input(\"image\", [batch, 3, \(size), \(size)])")
        let graph = try Pipelines.compileForInference(try Frontend.lower(source: small, file: "resnet18-\(size).swiftgraph",
                                                                         options: FrontendOptions(mode: .infer)), context)
        let store = ParameterStore()
        var count = 0
        for v in graph.parameters {
            let node = graph[v]
            let name = try XCTUnwrap(node.name)
            let shape = try XCTUnwrap(node.type.shape.resolved([:]))
            store.set(name, HostTensor(shape: shape, floats: Self.values(name, shape)))
            count += shape.reduce(1, *)
        }
        let input = Self.uniform01(3 * size * size, "input").map { Float(2 * (2 * $0 - 1)) }
        let executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: 2))
        let out = try executor.run(feeds: ["image": HostTensor(shape: [1, 3, size, size], floats: input)], parameters: store)
        return (try XCTUnwrap(out[graph.outputs[0].name]), count)
    }

    /// Every 3x3 stride-1 layer (13 of the 20) through Winograd F(4x4, 3x3), at 96x96 (partial
    /// tiles in layers 3 and 4): the features stay within 1e-4 of the largest feature of the
    /// direct (blocked) convolutions' result.
    func testWinogradFeaturesStayWithinTheIssuesBoundOfTheDirectOnes() throws {
        let (direct, _) = try Self.features(size: 96, .checked)
        let context = PassContext.checked
        context.options.convolutionChooser = ConvolutionAlgorithm.winograd.chooser
        let (winograd, _) = try Self.features(size: 96, context)
        let stats = try XCTUnwrap(context.statistics.first { $0.pass == "blocked-layout" })
        XCTAssertEqual(stats["convolutions by Winograd"], 13)
        XCTAssertEqual(stats["convolutions blocked"], 7)
        XCTAssertEqual(winograd.shape, direct.shape)
        let largest = direct.floats.map { abs(Double($0)) }.max() ?? 0
        XCTAssertGreaterThan(largest, 0)
        var worst = 0.0
        for (w, d) in zip(winograd.floats, direct.floats) { worst = max(worst, abs(Double(w) - Double(d))) }
        print("EncoderNumericsTests: Winograd vs direct at 96x96, max error \(worst) (largest feature \(largest))")
        XCTAssertLessThan(worst / largest, 1e-4)
    }

    func testResNet18MatchesPlainTorch() throws {
        let fixture = Self.repository.appendingPathComponent("Tests/RuntimeTests/Fixtures/resnet18_reference.json")
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: fixture)) as? [String: Any])
        let expected = try XCTUnwrap(json["output"] as? [Double])
        XCTAssertEqual(json["output_shape"] as? [Int], [1, 512, 2, 2])

        let (features, count) = try Self.features(size: 64, .checked)
        XCTAssertEqual(count, json["parameters"] as? Int, "parameter count differs from torch's state_dict")
        XCTAssertEqual(features.shape, [1, 512, 2, 2])
        let got = features.floats
        let scale = expected.map(abs).max() ?? 1
        var worst = 0.0
        for (g, e) in zip(got, expected) { worst = max(worst, abs(Double(g) - e)) }
        print("EncoderNumericsTests: max |graphc - torch| = \(worst) (max |output| \(scale))")
        XCTAssertLessThan(worst / scale, 1e-4)
    }
}
