import Foundation
import Frontend
import GraphIR
import Passes
import XCTest

/// Graphs are immutable to passes: `Graph` has no public setter and no public `append`, so a
/// pass can only build a new graph. These tests check what the types promise on real graphs.
final class ImmutableGraphTests: XCTestCase {
    /// The CNN as lowered, its training graph before optimisation (stack-sums, hoist and
    /// fusion find work there) and after it (drop-gradients and memory-plan do), and the
    /// captioning LSTM (contract, stack-products and the LSTM-cell fusion find work there).
    func graphs() throws -> [(name: String, graph: Graph)] {
        let cnn = try lowered("cnn.swiftgraph")
        let differentiated = try Pipeline(Pipelines.differentiation).run(cnn, .checked)
        let (_, training) = try Pipelines.compileForTraining(cnn, .checked)
        let lstm = try lowered("caption_lstm.swiftgraph")
        return [("cnn", cnn), ("cnn differentiated", differentiated), ("cnn training", training),
                ("caption_lstm", lstm), ("caption_lstm differentiated", try Pipeline(Pipelines.differentiation).run(lstm, .checked))]
    }

    func lowered(_ file: String) throws -> Graph {
        try Frontend.lower(path: DeclaredPipelinesTests.repository.appendingPathComponent("graphs/" + file).path,
                           options: FrontendOptions(mode: .train))
    }

    func testEveryRegisteredPassLeavesItsInputGraphAsItWas() throws {
        var changed: Set<String> = []
        for (name, g) in try graphs() {
            let before = IRPrinter.print(g)
            for pass in PassRegistry.all {
                let context = PassContext(options: PassOptions(batchSize: 8, dropout: 0.25))
                // A pass may refuse a graph (autodiff on a differentiated one): the input is kept either way.
                let out = try? pass.run(g, context)
                XCTAssertEqual(IRPrinter.print(g), before, "\(pass.name) changed its input graph (\(name))")
                if let out, IRPrinter.print(out) != before {
                    XCTAssertFalse(out === g, "\(pass.name) returned a different graph under the input's identity (\(name))")
                    changed.insert(pass.name)
                }
            }
        }
        // The check has teeth only if the passes did rewrite these graphs.
        XCTAssertEqual(changed.union(["verify"]), Set(PassRegistry.all.map(\.name)), "every pass but verify rewrites one of the graphs")
    }
}
