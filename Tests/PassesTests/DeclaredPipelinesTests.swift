import Frontend
import GraphIR
import Passes
import XCTest

/// The pipelines declared in `Pipelines`, and graphs dumped part way through them given back.
final class DeclaredPipelinesTests: XCTestCase {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func lowered(_ file: String) throws -> Graph {
        try Frontend.lower(path: DeclaredPipelinesTests.repository.appendingPathComponent("graphs/" + file).path,
                           options: FrontendOptions(mode: .train))
    }

    func testCompileIsForwardThenTrainingThenThePlan() throws {
        let g = try lowered("cnn.swiftgraph")
        let options = PassOptions(dropout: 0.1)
        XCTAssertEqual(Pipelines.compile(for: g, options).names,
                       Pipelines.forward(options).names + Pipelines.training(options).names + ["memory-plan"])
        XCTAssertEqual(Pipelines.forward(options).names, ["verify", "shape-inference", "constant-folding", "cse", "dce", "verify",
                                                           "set-dropout", "attention-scores", "contract", "attention-context", "stack-products", "lstm-cells", "dce", "verify"])
        XCTAssertEqual(Pipelines.training(options).names, ["autodiff", "constant-folding", "cse", "dce", "verify",
                                                            "stack-sums", "hoist", "slice-products", "stack-products", "cse", "reduced-inputs", "attention-grad-sums",
                                                            "fusion", "pool-gradient-sums", "pooled-weight-gradients", "dce",
                                                            "recompute-pooled-convolutions", "dce", "verify"])
        let unfused = PassOptions(fusion: false)
        XCTAssertEqual(Pipelines.forward(unfused).names, Pipelines.cleanup.map(\.name))
        XCTAssertEqual(Pipelines.training(unfused).names, Pipelines.differentiation.map(\.name))
        XCTAssertEqual(Pipelines.evaluation(unfused).names, ["drop-gradients", "dce", "verify"])
        XCTAssertEqual(Pipelines.inference(unfused).names, ["drop-gradients"] + Pipelines.cleanup.map(\.name))
        let lossless = GraphBuilder(copying: g)
        lossless.loss = nil
        XCTAssertFalse(Pipelines.compile(for: lossless.finish(), options).names.contains("autodiff"), "nothing to differentiate")
    }

    func testCompileForTrainingGivesTheForwardAndTheTrainingGraph() throws {
        let context = PassContext.checked(fusion: true)
        context.options.dropout = 0.3
        let (forward, training) = try Pipelines.compileForTraining(try lowered("cnn.swiftgraph"), context)
        XCTAssertTrue(forward.gradientOutputs.isEmpty)
        XCTAssertEqual(training.gradientOutputs.count, ParameterCount.report(forward).rows.filter(\.trainable).count)
        XCTAssertTrue(training.nodes.contains { $0.op == .fusedConv2d }, "fused")
        let masks = training.nodes.filter { $0.op == .dropoutMask }
        XCTAssertFalse(masks.isEmpty)
        XCTAssertTrue(masks.allSatisfy { $0.attributes.float("p") == 0.3 }, "the dropout option")
        // The evaluation graph: no dropout, both convolutions in the blocked layout with ReLU
        // and pooling in their store, no conv2d left.
        XCTAssertFalse(forward.nodes.contains { [.dropoutMask, .conv2d, .fusedConv2d, .blockedConv2d, .blockedMaxpool2d].contains($0.op) })
        XCTAssertEqual(forward.nodes.filter { $0.op == .blockedConv2dMaxpool }.count, 2)
        XCTAssertEqual(context.statistics.filter { $0.pass == "autodiff" }.count, 1)
    }

    /// The IR printed after `stage` of the compile pipeline, read back as a .gir file is.
    func dump(_ g: Graph, after stage: String) throws -> Graph {
        var text: String?
        _ = try Pipelines.compile(for: g, PassOptions()).run(g, .checked) { pass, out, _ in
            if pass.name == stage { text = IRPrinter.print(out) }
        }
        return try IRParser.parse(try XCTUnwrap(text), file: "cnn.\(stage).gir")
    }

    func testGraphsDumpedPartWayCompileAgain() throws {
        let g = try lowered("cnn.swiftgraph")
        let reference = try Pipelines.compileForTraining(g, .checked)
        let full = IRPrinter.print(try Pipelines.compile(for: g, PassOptions()).run(g, .checked))
        for stage in ["autodiff", "fusion", "memory-plan"] {
            let dumped = try dump(g, after: stage)
            XCTAssertEqual(ParameterCount.report(dumped).total, ParameterCount.report(g).total, stage)
            let context = PassContext.checked
            // The whole pipeline again: autodiff sees the gradients are there, the speed-ups
            // and the plan find nothing new.
            XCTAssertEqual(IRPrinter.print(try Pipelines.compile(for: dumped, PassOptions()).run(dumped, context)), full, stage)
            XCTAssertEqual(context.statistics.first { $0.pass == "autodiff" }?["skipped: already differentiated"], 1, stage)
            let (forward, training) = try Pipelines.compileForTraining(dumped, .checked)
            XCTAssertTrue(forward.gradientOutputs.isEmpty, stage)
            XCTAssertEqual(training.gradientOutputs.map(\.name), reference.training.gradientOutputs.map(\.name), stage)
            XCTAssertEqual(forward.outputs.map(\.name), reference.forward.outputs.map(\.name), stage)
            let inference = try Pipelines.compileForInference(dumped, .checked)
            XCTAssertTrue(inference.gradientOutputs.isEmpty, stage)
            XCTAssertLessThan(inference.nodes.count, dumped.nodes.count, "\(stage): the backward is gone")
        }
    }

    func testAGraphWithSomeGradientsIsALocatedError() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %w = param() {name="w", init="zeros"} : f32[3,4] loc("m.swiftgraph":2:9)
          %v = param() {name="v", init="zeros"} : f32[3,4] loc("m.swiftgraph":3:9)
          %a = matmul(%x, %w) {transpose_b=true} : f32[B,3]
          %b = matmul(%x, %v) {transpose_b=true} : f32[B,3]
          %c = add(%a, %b) : f32[B,3]
          %s = sum(%c) {axes=[0,1]} : f32[]
          %d = matmul(%c, %x) {transpose_a=true} : f32[3,4]
          output "grad:w" = %d
          loss = %s
        }
        """)
        assertContains(errorMessage { _ = try Pass.autodiff.run(g) },
                       ["m.swiftgraph:3:9", "autodiff: param %2", "already has gradient outputs (\"grad:w\", ...) but none for this trainable parameter"])
        let misnamed = GraphBuilder(copying: g)
        misnamed.outputs = [("grad:u", Value(7))]
        assertContains(errorMessage { _ = try Pass.autodiff.run(misnamed.finish()) }, ["gradient output \"grad:u\" names no trainable parameter"])
    }

    func testDropGradientsLeavesTheForwardPart() throws {
        let out = try runPasses("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %w = param() {name="w", init="zeros"} : f32[3,4]
          %y = matmul(%x, %w) {transpose_b=true} : f32[B,3]
          %s = sum(%y) {axes=[0,1]} : f32[]
          output "y" = %y
          loss = %s
        }
        """, ["autodiff", "drop-gradients", "dce"])
        assertFileCheck(out, """
        // CHECK: %[[Y:[0-9]+]] = matmul(%{{[0-9]+}}, %{{[0-9]+}}) {transpose_b=true} : f32[B,3]
        // CHECK-NEXT: %[[S:[0-9]+]] = sum(%[[Y]])
        // CHECK-NEXT: output "y" = %[[Y]]
        // CHECK-NEXT: loss = %[[S]]
        // CHECK-NOT: grad:
        """)
    }
}
