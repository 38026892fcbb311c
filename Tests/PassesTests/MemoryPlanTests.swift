import Frontend
import Foundation
import GraphIR
import Passes
import XCTest

/// The lifetime planner: values live at the same time never share bytes (except an
/// elementwise op or a reshape writing over an input it reads last), and dead values' memory
/// is reused.
final class MemoryPlanTests: XCTestCase {
    /// Checks every pair of values whose lifetimes overlap for disjoint regions.
    func assertNoLiveOverlap(_ g: Graph, _ sizes: [Int], _ plan: MemoryPlanner.Plan, file: StaticString = #filePath, line: UInt = #line) {
        let n = g.nodes.count
        var last = Array(0..<n)
        for (i, node) in g.nodes.enumerated() { for v in node.inputs { last[v.id] = max(last[v.id], i) } }
        var pinned = Set(g.outputs.map(\.value.id))
        if let l = g.loss { pinned.insert(l.id) }
        for (i, node) in g.nodes.enumerated() where node.op == .input || node.op == .param { pinned.insert(i) }
        for i in 0..<n where pinned.contains(i) { last[i] = n }
        for i in 0..<n where sizes[i] > 0 {
            XCTAssertLessThanOrEqual(plan.offsets[i] + sizes[i], plan.byteCount, file: file, line: line)
            for j in (i + 1)..<max(i + 1, n) where sizes[j] > 0 && j <= last[i] {
                // j is defined while i is live (j reads i's last value at the latest).
                if plan.inPlaceOf[j] == i { continue }
                let disjoint = plan.offsets[i] + sizes[i] <= plan.offsets[j] || plan.offsets[j] + sizes[j] <= plan.offsets[i]
                XCTAssertTrue(disjoint, "%\(i) (live to %\(last[i])) and %\(j) overlap", file: file, line: line)
                if !disjoint { return }
            }
        }
    }

    func testChainReusesAndWritesInPlace() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[64]
          %a = exp(%x) : f32[64]
          %b = neg(%a) : f32[64]
          %c = reshape(%b) {shape=shape[8,8]} : f32[8,8]
          %d = reshape(%c) {shape=shape[64]} : f32[64]
          %e = add(%d, %x) : f32[64]
          output "e" = %e
        }
        """)
        let sizes = MemoryPlanner.byteSizes(g, bindings: [:])
        let plan = MemoryPlanner.plan(g, byteSizes: sizes)
        XCTAssertEqual(plan.inPlaceOf[2], 1, "neg overwrites exp's result")
        XCTAssertEqual(plan.inPlaceOf[3], 2, "a reshape takes its input's region (other shape, same element type and bytes)")
        XCTAssertEqual(plan.inPlaceOf[4], 3)
        XCTAssertEqual(plan.offsets[4], plan.offsets[1], "so the chain lives in exp's region")
        XCTAssertNil(plan.inPlaceOf[5], "the result is pinned: it gets a region of its own")
        XCTAssertEqual(plan.byteCount, 3 * 256, "input, one working region, the result")
        assertNoLiveOverlap(g, sizes, plan)
    }

    /// A reshape of a value read later, or of a pinned one, copies.
    func testReshapeOfALiveValueCopies() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[8,8]
          %a = exp(%x) : f32[8,8]
          %c = reshape(%a) {shape=shape[64]} : f32[64]
          %s = reshape(%x) {shape=shape[64]} : f32[64]
          %d = reshape_like(%c, %s) : f32[64]
          %e = add(%d, %s) : f32[64]
          %g = reshape_like(%e, %a) : f32[8,8]
          %f = add(%g, %a) : f32[8,8]
          output "f" = %f
        }
        """)
        let sizes = MemoryPlanner.byteSizes(g, bindings: [:])
        let plan = MemoryPlanner.plan(g, byteSizes: sizes)
        XCTAssertNil(plan.inPlaceOf[2], "exp's result is read again by %f")
        XCTAssertNil(plan.inPlaceOf[3], "an input is pinned")
        XCTAssertEqual(plan.inPlaceOf[4], 2, "reshape_like takes x's region when x is read last")
        XCTAssertEqual(plan.inPlaceOf[6], 5)
        assertNoLiveOverlap(g, sizes, plan)
    }

    func testRealGraphsHaveNoLiveOverlapAndReuseMemory() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for (file, bindings) in [("cnn.swiftgraph", ["B": 8]), ("caption_attention.swiftgraph", ["B": 3])] {
            let lowered = try Frontend.lower(path: root.appendingPathComponent("graphs/" + file).path, options: FrontendOptions(mode: .train))
            let g = try Pipelines.compileForTraining(lowered, .checked).training
            let sizes = MemoryPlanner.byteSizes(g, bindings: bindings)
            let plan = MemoryPlanner.plan(g, byteSizes: sizes)
            assertNoLiveOverlap(g, sizes, plan)
            let separate = sizes.reduce(0) { $0 + ($1 + 63) / 64 * 64 }
            XCTAssertLessThan(plan.byteCount, separate, file)
            XCTAssertTrue(plan.inPlaceOf.contains { $0 != nil }, "\(file): some elementwise op runs in place")
        }
    }

    /// Fusion must not stretch lifetimes: a gradient accumulated over the decoder's steps,
    /// fused into one kernel at the end, would keep every step's term alive (3x the arena).
    func testFusionKeepsTheDecoderArenaSmall() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let lowered = try Frontend.lower(path: root.appendingPathComponent("graphs/caption_lstm.swiftgraph").path, options: FrontendOptions(mode: .train))
        let training = try Pipelines.compileForTraining(lowered, .checked(fusion: false)).training
        let fused = try Pipeline(Pipelines.optimisations).run(training, .checked)
        func arena(_ g: Graph) -> Int { MemoryPlanner.plan(g, byteSizes: MemoryPlanner.byteSizes(g, bindings: ["B": 32])).byteCount }
        XCTAssertLessThan(Double(arena(fused)), 1.15 * Double(arena(training)), "fused \(arena(fused)) bytes, unfused \(arena(training))")
    }

    func testPassAnnotatesOffsets() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[4]
          %a = exp(%x) : f32[4]
          %b = neg(%a) : f32[4]
          output "b" = %b
        }
        """)
        assertFileCheck(IRPrinter.print(try Pass.memoryPlan.run(g)), """
        // CHECK: %0 = input() {name="x", arena=[0,16]}
        // CHECK: %[[E:[0-9]+]] = exp(%0) {arena=[64,16]}
        // CHECK: %[[N:[0-9]+]] = neg(%[[E]]) {arena=[128,16]}
        // CHECK: output "b" = %[[N]]
        // CHECK-LABEL: meta
        // CHECK-SAME: {arena_bytes=192,
        """)
    }
}
