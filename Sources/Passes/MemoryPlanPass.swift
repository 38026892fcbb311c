import GraphIR

/// `memory-plan`: annotates every node with its place in the arena, `arena=[offset, bytes]`
/// (plus `in_place=%k` when it overwrites input %k), and the graph with `arena_bytes`, for
/// the batch size `options.batchSize` (else the model's training batch size, metadata
/// `batch_size`, else 1) bound to every symbolic dimension named B and 1 to the others. The
/// runtime plans again for each real binding with the same planner (`MemoryPlanner`); this
/// pass only shows the plan. Run again on its own output it replaces its annotations.
///
///     %1 = exp(%0) : f32[4]
///     %2 = neg(%1) : f32[4]
/// becomes
///     %1 = exp(%0) {arena=[64,16]} : f32[4]
///     %2 = neg(%1) {arena=[64,16], in_place=%1} : f32[4]
extension Pass {
    public static let memoryPlan = Pass(name: "memory-plan", summary: "show each value's arena offset under lifetime-based reuse (annotates the IR)") { g, context in
        let batch = context.options.batchSize ?? g.metadata.int("batch_size") ?? 1
        let sizes = MemoryPlanner.byteSizes(g, bindings: ["B": batch])
        let plan = MemoryPlanner.plan(g, byteSizes: sizes)
        var r = GraphRewriter(g, pass: "memory-plan")
        for v in g.values {
            var node = g[v]
            node.inputs = try r.remapInputs(of: v)
            node.attributes["arena"] = .ints([plan.offsets[v.id], sizes[v.id]])
            node.attributes["in_place"] = plan.inPlaceOf[v.id].map { .string("%\($0)") }
            r.emit(node, for: v)
        }
        r.target.metadata["arena_bytes"] = .int(plan.byteCount)
        r.target.metadata["arena_bytes_without_reuse"] = .int(sizes.reduce(0) { $0 + ($1 + 63) / 64 * 64 })
        context.count("values in place", plan.inPlaceOf.lazy.filter { $0 != nil }.count)
        context.count("arena bytes", plan.byteCount)
        return try r.finish()
    }
}
