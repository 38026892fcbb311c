import Frontend
import Foundation
import GraphIR
import Passes
import XCTest

/// The lifetime planner: values live at the same time never share bytes (except an
/// elementwise op or a reshape writing over an input it reads last, and a reshape sharing the
/// region of an input read later), and dead values' memory is reused.
final class MemoryPlanTests: XCTestCase {
    /// Checks every pair of values whose lifetimes overlap for disjoint regions, but a reshape
    /// and the values it shares a region with (through reshapes, none of them written later:
    /// the values of a graph are written only by their own node) and an in-place write and the
    /// input it overwrites when that input's last read is the writing node.
    func assertNoLiveOverlap(_ g: Graph, _ sizes: [Int], _ plan: MemoryPlanner.Plan, file: StaticString = #filePath, line: UInt = #line) {
        let n = g.nodes.count
        var last = Array(0..<n)
        for (i, node) in g.nodes.enumerated() { for v in node.inputs { last[v.id] = max(last[v.id], i) } }
        var pinned = Set(g.outputs.map(\.value.id))
        if let l = g.loss { pinned.insert(l.id) }
        for (i, node) in g.nodes.enumerated() where node.op == .input || node.op == .param { pinned.insert(i) }
        for i in 0..<n where pinned.contains(i) { last[i] = n }
        // The value whose bytes a value is: up its chain of reshapes given their input's region.
        func bytes(_ j: Int) -> Int {
            var at = j
            while [.reshape, .reshapeLike].contains(g.nodes[at].op), let x = plan.inPlaceOf[at] { at = x }
            return at
        }
        for i in 0..<n where sizes[i] > 0 {
            XCTAssertLessThanOrEqual(plan.offsets[i] + sizes[i], plan.byteCount, file: file, line: line)
            for j in (i + 1)..<max(i + 1, n) where sizes[j] > 0 && j <= last[i] {
                // j is defined while i is live (j reads i's last value at the latest).
                if bytes(j) == bytes(i) { continue }
                if plan.inPlaceOf[j] == i && last[i] == j { continue }
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

    /// A reshape of a value read later shares its region (nothing writes either afterwards);
    /// of a pinned one, copies. The shared region lives to the last read of either, and no
    /// in-place write takes it before.
    func testReshapeOfALiveValueSharesItsRegion() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[8,8]
          %a = exp(%x) : f32[8,8]
          %c = reshape(%a) {shape=shape[64]} : f32[64]
          %s = reshape(%x) {shape=shape[64]} : f32[64]
          %d = reshape_like(%c, %s) : f32[64]
          %e = add(%d, %s) : f32[64]
          %g = reshape_like(%e, %a) : f32[8,8]
          %h = neg(%c) : f32[64]
          %f = add(%g, %a) : f32[8,8]
          %k = add(%h, %c) : f32[64]
          output "f" = %f
          output "k" = %k
        }
        """)
        let sizes = MemoryPlanner.byteSizes(g, bindings: [:])
        let plan = MemoryPlanner.plan(g, byteSizes: sizes)
        XCTAssertEqual(plan.inPlaceOf[2], 1, "exp's result, read again by %f, is shared, not copied")
        XCTAssertEqual(plan.offsets[2], plan.offsets[1])
        XCTAssertNil(plan.inPlaceOf[3], "an input is pinned")
        XCTAssertEqual(plan.inPlaceOf[4], 2, "a reshape of a view shares the same region")
        XCTAssertEqual(plan.offsets[4], plan.offsets[1])
        XCTAssertNotEqual(plan.inPlaceOf[5], 4, "add may not write over %d: %a, %c (the same bytes) are read later")
        XCTAssertNotEqual(plan.offsets[5], plan.offsets[1])
        XCTAssertEqual(plan.inPlaceOf[6], 5)
        XCTAssertNil(plan.inPlaceOf[7], "neg may not write over %c: %a and %c are read later")
        XCTAssertNotEqual(plan.offsets[7], plan.offsets[1])
        XCTAssertNotEqual(plan.offsets[8], plan.offsets[1])
        assertNoLiveOverlap(g, sizes, plan)

        // Reading a value twice through a view does not let an in-place write take it: the
        // writing node reads the same bytes as another operand.
        let twice = try parseIR("""
        graph @g {
          %x = input() {name="x"} : f32[8,8]
          %a = exp(%x) : f32[8,8]
          %c = reshape(%a) {shape=shape[64]} : f32[64]
          %t = reshape(%a) {shape=shape[64]} : f32[64]
          %e = add(%c, %t) : f32[64]
          %n = neg(%e) : f32[64]
          output "n" = %n
        }
        """)
        let twicePlan = MemoryPlanner.plan(twice, byteSizes: MemoryPlanner.byteSizes(twice, bindings: [:]))
        XCTAssertEqual(twicePlan.offsets[2], twicePlan.offsets[1])
        XCTAssertEqual(twicePlan.offsets[3], twicePlan.offsets[1])
        XCTAssertNil(twicePlan.inPlaceOf[4])
        XCTAssertNotEqual(twicePlan.offsets[4], twicePlan.offsets[1])
        assertNoLiveOverlap(twice, MemoryPlanner.byteSizes(twice, bindings: [:]), twicePlan)
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
            if file == "cnn.swiftgraph" {
                // The flattening of the pooled features, which the bias gradient reads again.
                let shared = g.nodes.indices.filter { i in
                    let x = g.nodes[i].inputs.first
                    return g.nodes[i].op == .reshape && plan.inPlaceOf[i] == x?.id && g.nodes[(i + 1)...].contains { $0.inputs.contains { $0 == x } }
                }
                XCTAssertFalse(shared.isEmpty, "the reshape of a value read later shares its region")
            }
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
