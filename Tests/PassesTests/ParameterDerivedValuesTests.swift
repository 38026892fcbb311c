import GraphIR
import Passes
import XCTest

/// Which values are computed from parameters and constants only (`ParameterDerivedValues`),
/// which of those are kept between runs, and how the memory plan shows them.
final class ParameterDerivedValuesTests: XCTestCase {
    /// A folded BatchNorm (several ops on [16]) and a packed weight beside a convolution's input.
    let foldedConvolution = """
    graph @g {
      %x = input() {name="x"} : f32[B,16,8,8]
      %w = param() {name="w", init="zeros"} : f32[16,16,3,3]
      %v = param() {name="v", init="ones"} : f32[16]
      %g = param() {name="g", init="ones"} : f32[16]
      %eps = constant() {value=0.001} : f32[]
      %a = add(%v, %eps) : f32[16]
      %l = log(%a) : f32[16]
      %h = scale(%l) {factor=-0.5} : f32[16]
      %e = exp(%h) : f32[16]
      %s = mul(%g, %e) : f32[16]
      %p = pack_conv_weight(%w) {in_block=16} : f32[1,1,3,3,16,16]
      %xb = reorder_to_blocked(%x) : f32[B,1,8,8,16]
      %y = blocked_conv2d(%xb, %p, %s, %g) {stride=[1,1], padding=[1,1], activation="relu"} : f32[B,1,8,8,16]
      %o = reorder_from_blocked(%y) : f32[B,16,8,8]
      output "y" = %o
    }
    """

    func testFindsTheParameterOnlySubgraphAndWhatRunsReadFromIt() throws {
        let g = try parseIR(foldedConvolution)
        let d = ParameterDerivedValues(g)
        let ops = d.nodes.map { g.nodes[$0].op.name }
        XCTAssertEqual(ops, ["constant", "add", "log", "scale", "exp", "mul", "pack_conv_weight"])
        XCTAssertEqual(d.kept.map { g.nodes[$0].op.name }, ["mul", "pack_conv_weight"], "what blocked_conv2d reads")
        XCTAssertEqual(d.temporary.map { g.nodes[$0].op.name }, ["constant", "add", "log", "scale", "exp"])
        for (i, node) in g.nodes.enumerated() where ["input", "param", "reorder_to_blocked", "blocked_conv2d", "reorder_from_blocked"].contains(node.op.name) {
            XCTAssertFalse(d.isDerived[i], "\(node.op.name) is not computed from parameters only")
        }
        XCTAssertTrue(ParameterDerivedValues.computedOnceByDefault(in: g))
    }

    /// Random ops, anything that reads an input, and values a result or the loss is made of.
    func testRandomOpsInputsAndResults() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %w = param() {name="w", init="ones"} : f32[4]
          %m = dropout_mask(%w) {p=0.5} : f32[4]
          %d = mul(%w, %m) : f32[4]
          %t = neg(%w) : f32[4]
          %u = exp(%t) : f32[4]
          %y = mul(%x, %u) : f32[B,4]
          %z = add(%x, %w) : f32[B,4]
          output "y" = %y
          output "d" = %d
          output "z" = %z
          output "u" = %u
        }
        """)
        let d = ParameterDerivedValues(g)
        let names = d.nodes.map { g.nodes[$0].op.name }
        XCTAssertEqual(names, ["neg", "exp"], "a dropout mask is random, and what reads it (or an input) runs every time")
        XCTAssertEqual(d.kept.map { g.nodes[$0].op.name }, ["exp"], "read by a run's node and a result")
        XCTAssertEqual(d.temporary.map { g.nodes[$0].op.name }, ["neg"])
    }

    /// A training graph (gradient outputs) is not computed once by default: its optimiser
    /// changes every weight at every step.
    func testTrainingGraphsAreNotComputedOnce() throws {
        let g = try parseIR("""
        graph @g {
          %w = param() {name="w", init="ones"} : f32[4]
          %t = neg(%w) : f32[4]
          output "grad:w" = %t
        }
        """)
        XCTAssertFalse(ParameterDerivedValues.computedOnceByDefault(in: g))
        XCTAssertEqual(ParameterDerivedValues(g).nodes, [1], "the analysis itself still finds it")
        assertFileCheck(IRPrinter.print(try Pass.memoryPlan.run(g)), """
        // CHECK: neg(%0) {arena=
        // CHECK-NOT: cached
        """)
    }

    /// Layout: kept values one after another, temporaries in scratch planned by lifetimes
    /// (the five [16] and scalar temporaries of the folded BatchNorm need two regions at once).
    func testLayoutKeepsOnlyWhatRunsRead() throws {
        let g = try parseIR(foldedConvolution)
        let d = ParameterDerivedValues(g)
        let sizes = MemoryPlanner.byteSizes(g, bindings: ["B": 2])
        let layout = d.layout(g, byteSizes: sizes)
        XCTAssertEqual(layout.keptBytes, 64 + 16 * 16 * 9 * 4, "the scale and the packed weight")
        XCTAssertEqual(Set(layout.keptOffsets.keys), Set(d.kept))
        XCTAssertEqual(Set(layout.temporaryOffsets.keys), Set(d.temporary))
        XCTAssertLessThanOrEqual(layout.temporaryBytes, 3 * 64, "temporaries reuse scratch")
    }

    /// The memory plan puts kept values in the cached region, temporaries in scratch, and
    /// neither in the arena.
    func testMemoryPlanShowsCachedValues() throws {
        let context = PassContext()
        let out = IRPrinter.print(try Pass.memoryPlan.run(try parseIR(foldedConvolution), context))
        assertFileCheck(out, """
        // CHECK: %[[X:[0-9]+]] = input() {name="x", arena=[0,4096]}
        // CHECK: constant() {value=0.001, cached_temp=[{{[0-9]+}},4]}
        // CHECK: add(%{{[0-9]+}}, %{{[0-9]+}}) {cached_temp=[{{[0-9]+}},64]}
        // CHECK: log(%{{[0-9]+}}) {cached_temp=
        // CHECK: scale(%{{[0-9]+}}) {factor=-0.5, cached_temp=
        // CHECK: exp(%{{[0-9]+}}) {cached_temp=
        // CHECK: %[[S:[0-9]+]] = mul(%{{[0-9]+}}, %{{[0-9]+}}) {cached=[0,64]}
        // CHECK: %[[P:[0-9]+]] = pack_conv_weight(%{{[0-9]+}}) {in_block=16, cached=[64,9216]}
        // CHECK: reorder_to_blocked(%[[X]]) {arena=
        // CHECK: blocked_conv2d(%{{[0-9]+}}, %[[P]], %[[S]], %{{[0-9]+}}) {stride=[1,1], padding=[1,1], activation="relu", arena=
        // CHECK-LABEL: meta
        // CHECK-SAME: cached_bytes=9280, cached_temp_bytes=128}
        """)
        XCTAssertFalse(out.split(separator: "\n").contains { $0.contains("pack_conv_weight") && $0.contains("arena=") })
        let stats = try XCTUnwrap(context.statistics.first { $0.pass == "memory-plan" })
        XCTAssertEqual(stats["values computed once"], 7)
        XCTAssertEqual(stats["bytes computed once and kept"], 9280)
        // Run again on its own output, it replaces its annotations.
        XCTAssertEqual(IRPrinter.print(try Pass.memoryPlan.run(try parseIR(out))), out)
    }
}
