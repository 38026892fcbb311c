import GraphIR
import Passes
import XCTest

final class DataParallelPassTests: XCTestCase {
    /// Gradients written in the order v, b, w (node order), one output per parameter.
    let source = """
    graph @g {
      %x = input() {name="x"} : f32[2,4]
      %w = param() {name="w", init="zeros"} : f32[4,3]
      %b = param() {name="b", init="zeros"} : f32[3]
      %v = param() {name="v", init="zeros"} : f32[3,2]
      %gv = exp(%v)
      %gb = neg(%b)
      %gw = tanh(%w)
      %y = matmul(%x, %w)
      output "y" = %y
      output "grad:w" = %gw
      output "grad:b" = %gb
      output "grad:v" = %gv
    }
    """

    func run(_ ir: String, bucketBytes: Int) throws -> (Graph, PassContext) {
        var options = PassOptions(verifyEach: true)
        options.bucketBytes = bucketBytes
        let context = PassContext(options: options)
        return (try Pipeline(["data-parallel", "verify"]).run(try parseIR(ir), context), context)
    }

    func testBucketsFollowTheBackwardAndStartAfterTheirLastGradient() throws {
        // 40 bytes: v (24) and b (12) share a bucket; w (48) is larger and gets its own.
        let (g, context) = try run(source, bucketBytes: 40)
        assertFileCheck(IRPrinter.print(g), """
        CHECK: %[[GV:[0-9]+]] = exp(
        CHECK-NEXT: %[[GB:[0-9]+]] = neg(
        CHECK-NEXT: %[[S0:[0-9]+]] = allreduce_start(%[[GV]], %[[GB]]) {bucket=0} : f32[9]
        CHECK-NEXT: %[[GW:[0-9]+]] = tanh(
        CHECK-NEXT: %[[S1:[0-9]+]] = allreduce_start(%[[GW]]) {bucket=1} : f32[12]
        CHECK-NEXT: matmul(
        CHECK-NEXT: %[[W0:[0-9]+]] = allreduce_wait(%[[S0]]) {bucket=0} : f32[9]
        CHECK-NEXT: %[[V:[0-9]+]] = bucket_slice(%[[W0]]) {start=0, shape=shape[3,2]} : f32[3,2]
        CHECK-NEXT: %[[B:[0-9]+]] = bucket_slice(%[[W0]]) {start=6, shape=shape[3]} : f32[3]
        CHECK-NEXT: %[[W1:[0-9]+]] = allreduce_wait(%[[S1]]) {bucket=1} : f32[12]
        CHECK-NEXT: %[[W:[0-9]+]] = bucket_slice(%[[W1]]) {start=0, shape=shape[4,3]} : f32[4,3]
        CHECK: output "y" =
        CHECK-NEXT: output "grad:w" = %[[W]]
        CHECK-NEXT: output "grad:b" = %[[B]]
        CHECK-NEXT: output "grad:v" = %[[V]]
        """)
        let stats = try XCTUnwrap(context.statistics.first { $0.pass == "data-parallel" })
        XCTAssertEqual(stats["buckets"], 2)
        XCTAssertEqual(stats["gradients exchanged"], 3)
    }

    func testOneBigBucketAndIdempotenceAndIRRoundTrip() throws {
        let (g, _) = try run(source, bucketBytes: PassOptions.defaultBucketBytes)
        XCTAssertEqual(g.nodes.filter { $0.op == .allReduceStart }.count, 1)
        XCTAssertEqual(g.nodes.first { $0.op == .allReduceStart }?.inputs.count, 3)
        let (again, context) = try run(IRPrinter.print(g), bucketBytes: 40)
        XCTAssertEqual(IRPrinter.print(again), IRPrinter.print(g), "a graph that exchanges its gradients already is left as it is")
        XCTAssertEqual(context.statistics.first { $0.pass == "data-parallel" }?["buckets"], 0)
    }

    func testGraphWithoutGradientsIsUnchanged() throws {
        let ir = """
        graph @g {
          %x = input() {name="x"} : f32[2]
          %y = exp(%x)
          output "y" = %y
        }
        """
        let (g, _) = try run(ir, bucketBytes: 40)
        XCTAssertFalse(g.nodes.contains { $0.op == .allReduceStart })
    }

    /// The network writes a bucket between its start and its wait: the memory plan must give
    /// no value computed in between any byte of it.
    func testMemoryPlanKeepsEachBucketAliveAcrossItsCommunication() throws {
        let (g, _) = try run(source, bucketBytes: 40)
        let sizes = MemoryPlanner.byteSizes(g, bindings: [:])
        let plan = MemoryPlanner.plan(g, byteSizes: sizes)
        for (i, node) in g.nodes.enumerated() where node.op == .allReduceStart {
            let wait = try XCTUnwrap(g.nodes.indices.first { g.nodes[$0].op == .allReduceWait && g.nodes[$0].inputs == [Value(i)] })
            let bucket = plan.offsets[i]..<(plan.offsets[i] + sizes[i])
            for j in (i + 1)..<wait where g.nodes[j].op != .param && g.nodes[j].op != .input && sizes[j] > 0 {
                let other = plan.offsets[j]..<(plan.offsets[j] + sizes[j])
                XCTAssertFalse(bucket.overlaps(other), "%\(j) (\(g.nodes[j].op.name)) is placed over bucket %\(i) while it is in flight")
            }
        }
    }

    func testTrainingPipelineRunsThePassOnlyWhenAsked() throws {
        var options = PassOptions()
        XCTAssertFalse(Pipelines.training(options).passes.map(\.name).contains("data-parallel"))
        options.dataParallel = true
        XCTAssertEqual(Pipelines.training(options).passes.map(\.name).suffix(2), ["data-parallel", "verify"])
        XCTAssertNotNil(PassRegistry.named("data-parallel"))
    }

    func testShapeRulesRefuseBadBuckets() {
        let start = errorMessage { _ = try OpDef.allReduceStart.shape(ShapeQuery(inputs: [.i64([2])], attributes: ["bucket": .int(0)])) }
        XCTAssertTrue(start.contains("only f32"), start)
        let slice = errorMessage {
            _ = try OpDef.bucketSlice.shape(ShapeQuery(inputs: [.f32([10])], attributes: ["start": .int(6), "shape": .shape([2, 3])]))
        }
        XCTAssertTrue(slice.contains("outside the bucket of 10"), slice)
        let wait = errorMessage { _ = try OpDef.allReduceWait.shape(ShapeQuery(inputs: [.f32([2, 5])], attributes: ["bucket": .int(0)])) }
        XCTAssertTrue(wait.contains("flat f32"), wait)
    }
}
