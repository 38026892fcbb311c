import GraphIR
import Passes
import XCTest

/// The context passes run with: cached analyses, statistics, options, verify-each.
final class PassContextTests: XCTestCase {
    let ir = """
    graph @g {
      %x = input() {name="x"} : f32[4]
      %a = exp(%x)
      %b = exp(%x)
      %c = add(%a, %b)
      %d = neg(%c)
      %e = tanh(%x)
      output "d" = %d
    }
    """

    func testAnalysesAreComputedForTheGraphAskedAbout() throws {
        let g = try parseIR(ir)
        let context = PassContext()
        XCTAssertEqual(context.useCounts(g), g.useCounts())
        XCTAssertEqual(context.users(g), g.users())
        XCTAssertEqual(context.lastReaders(g), g.lastReaders())
        // A pass's new graph gets its own analyses, not the input's.
        let merged = try Pass.commonSubexpressionElimination.run(g, context)
        XCTAssertEqual(context.useCounts(merged), merged.useCounts())
        XCTAssertNotEqual(context.useCounts(merged), g.useCounts())
        // Growing a graph builds a new one, analysed on its own; the old one's analyses still hold.
        let b = GraphBuilder(copying: merged)
        let extra = try b.emit(.relu, [Value(1)])
        b.outputs.append(("extra", extra))
        let grown = b.finish()
        XCTAssertEqual(context.useCounts(grown), grown.useCounts())
        XCTAssertEqual(context.useCounts(grown)[extra.id], 1)
        XCTAssertEqual(context.useCounts(merged), merged.useCounts())
        XCTAssertEqual(merged.nodes.count, extra.id, "the copied graph is left as it was")
    }

    func testStatisticsCountWhatEachPassDid() throws {
        let context = PassContext()
        _ = try Pipeline(["cse", "dce", "fusion", "verify"]).run(try parseIR(ir), context)
        XCTAssertEqual(context.statistics.map(\.pass), ["cse", "dce", "fusion", "verify"])
        XCTAssertEqual(context.statistics.map(\.nodesBefore), [6, 5, 4, 3])
        XCTAssertEqual(context.statistics.map(\.nodesAfter), [5, 4, 3, 3])
        XCTAssertEqual(context.statistics[0]["nodes merged"], 1)
        XCTAssertEqual(context.statistics[1]["nodes removed"], 1)
        // add(%a, %a) and neg become one kernel; exp, read twice, stays apart.
        XCTAssertEqual(context.statistics[2]["elementwise kernels"], 1)
        XCTAssertEqual(context.statistics[2]["ops absorbed"], 1)
        XCTAssertTrue(context.statistics.allSatisfy { $0.time != nil })
        assertContains(context.statisticsReport, ["cse     6 -> 5 nodes; nodes merged 1", "dce     5 -> 4 nodes; nodes removed 1",
                                                  "fusion  4 -> 3 nodes; ops absorbed 1, elementwise kernels 1", "verify  3 -> 3 nodes"])
    }

    /// A pass that leaves the recorded type of its last node wrong.
    static let mistype = Pass(name: "mistype", summary: "test: record a wrong type") { g, _ in
        let out = GraphBuilder(name: g.name)
        for (i, n) in g.nodes.enumerated() {
            var node = n
            if i == g.nodes.count - 1 { node.type = .f32([5]) }
            out.append(node)
        }
        out.outputs = g.outputs
        return out.finish()
    }

    func testVerifyEachNamesThePassThatBrokeTheGraph() throws {
        let g = try parseIR(ir)
        let pipeline = Pipeline([.commonSubexpressionElimination, PassContextTests.mistype, .deadCodeElimination])
        XCTAssertNoThrow(try pipeline.run(g, PassContext()), "without verify-each the broken graph goes through")
        let m = errorMessage { _ = try pipeline.run(g, .checked) }
        assertContains(m, ["verify: tanh %4", "f32[5]", "after pass 'mistype' (--verify-each)"])
    }

    func testOptionsReachThePasses() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[B,4]
          %m = dropout_mask(%x) {p=0.5} : f32[B,4]
          %y = mul(%x, %m) : f32[B,4]
          output "y" = %y
        }
        """)
        XCTAssertTrue(try Pass.setDropout.run(g) === g, "no dropout option: nothing to do")
        let context = PassContext(options: PassOptions(batchSize: 10, dropout: 0.25))
        let set = try Pass.setDropout.run(g, context)
        assertFileCheck(IRPrinter.print(set), "// CHECK: dropout_mask(%0) {p=0.25}")
        XCTAssertEqual(context.statistics.last?["masks set"], 1)
        XCTAssertEqual(g[Value(1)].attributes.float("p"), 0.5, "the input graph is unchanged")
        // memory-plan sizes B as the batch size option says: 10 x 4 floats.
        assertFileCheck(IRPrinter.print(try Pass.memoryPlan.run(g, context)), "// CHECK: %1 = dropout_mask(%0) {p=0.5, arena=[192,160]}")
    }
}
