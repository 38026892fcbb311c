import Foundation
import Frontend
import GraphIR
import Passes
import XCTest

/// Graphs are immutable to passes: `Graph` has no public setter and no public `append`, so a
/// pass can only build a new graph. These tests check what the types promise on real graphs.
final class ImmutableGraphTests: XCTestCase {
    /// Graphs on which every pass but verify finds work: the CNN as lowered, straight out of
    /// autodiff (constant-folding, cse, dce), differentiated and cleaned up (stack-sums, hoist,
    /// fusion), with its weight gradients pooled (recompute-pooled-convolutions), fully compiled (drop-gradients, memory-plan) and blocked (fuse-conv-pool);
    /// the captioning LSTM (stack-products and the LSTM-cell fusion) and attention model
    /// (contract), differentiated (slice-products), and with its forward speed-ups before
    /// (attention-grad-sums); a graph whose input was edited by hand (shape-inference) and one with a
    /// product by one and a repeated expression (constant-folding, cse).
    func graphs() throws -> [(name: String, graph: Graph)] {
        let cnn = try lowered("cnn.swiftgraph")
        let lstm = try lowered("caption_lstm.swiftgraph")
        let attention = try lowered("caption_attention.swiftgraph")
        let edited = try parseIR("""
        graph @edited {
          %x = input() {name="x"} : f32[B,32]
          %r = relu(%x) : f32[B,16]
          output "r" = %r
        }
        """, types: .trustDeclared)
        let redundant = try parseIR("""
        graph @redundant {
          %x = input() {name="x"} : f32[4]
          %one = constant() {value=1}
          %a = mul(%x, %one)
          %b = tanh(%a)
          %c = tanh(%a)
          %d = add(%b, %c)
          output "d" = %d
        }
        """)
        return [("cnn", cnn), ("cnn autodiff", try Pass.autodiff.run(cnn)),
                ("cnn differentiated", try Pipeline(Pipelines.differentiation).run(cnn, .checked)),
                ("cnn training", try Pipelines.compileForTraining(cnn, .checked).training),
                ("cnn fused", try Pipeline(Pipelines.differentiation + [.fusion]).run(cnn, .checked)),
                ("cnn bias sums pooled", try Pipeline(Pipelines.differentiation + [.fusion, .poolGradientSums, .deadCodeElimination]).run(cnn, .checked)),
                ("cnn weight gradients pooled", try Pipeline(Pipelines.differentiation + [.fusion, .poolGradientSums, .pooledWeightGradients,
                                                                                           .deadCodeElimination]).run(cnn, .checked)),
                ("cnn blocked", try Pipeline(["blocked-layout", "dce"]).run(cnn, .checked)),
                ("caption_lstm", lstm), ("caption_lstm differentiated", try Pipeline(Pipelines.differentiation).run(lstm, .checked)),
                ("caption_attention", attention), ("caption_attention differentiated", try Pipeline(Pipelines.differentiation).run(attention, .checked)),
                ("caption_attention forward-optimised and differentiated",
                 try Pipeline(Pipelines.forward(PassOptions()).passes + Pipelines.differentiation).run(attention, .checked)),
                ("edited", edited), ("redundant", redundant)]
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
