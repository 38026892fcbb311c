import GraphIR

/// `memory-plan`: annotates every node with its place in the arena, `arena=[offset, bytes]`
/// (plus `in_place=%k` when it overwrites input %k, or is a reshape sharing the region of %k,
/// which is read later), and the graph with `arena_bytes`, for
/// the batch size `options.batchSize` (else the model's training batch size, metadata
/// `batch_size`, else 1) bound to every symbolic dimension named B and 1 to the others. The
/// runtime plans again for each real binding with the same planner (`MemoryPlanner`); this
/// pass only shows the plan. Run again on its own output it replaces its annotations.
///
/// Values computed from parameters and constants only (`ParameterDerivedValues`) take no
/// room in the arena when executors compute them once (every graph but a training graph):
/// the kept ones show `cached=[offset, bytes]` in the region kept between runs
/// (`cached_bytes`), the ones only they read `cached_temp=[offset, bytes]` in scratch held
/// while they are computed (`cached_temp_bytes`).
///
///     %1 = exp(%0) : f32[4]
///     %2 = neg(%1) : f32[4]
/// becomes
///     %1 = exp(%0) {arena=[64,16]} : f32[4]
///     %2 = neg(%1) {arena=[64,16], in_place=%1} : f32[4]
/// and
///     %w = param() {name="w"} : f32[32,16,3,3]
///     %p = pack_conv_weight(%w) {in_block=16} : f32[2,1,3,3,16,16]
/// becomes
///     %p = pack_conv_weight(%w) {in_block=16, cached=[0,18432]} : f32[2,1,3,3,16,16]
extension Pass {
    public static let memoryPlan = Pass(name: "memory-plan", summary: "show each value's arena offset under lifetime-based reuse (annotates the IR)") { g, context in
        let batch = context.options.batchSize ?? g.metadata.int("batch_size") ?? 1
        let sizes = MemoryPlanner.byteSizes(g, bindings: ["B": batch])
        let derived = ParameterDerivedValues.computedOnceByDefault(in: g) ? ParameterDerivedValues(g) : nil
        let cached = derived.map { $0.layout(g, byteSizes: sizes) }
        var arenaSizes = sizes
        for i in derived?.nodes ?? [] { arenaSizes[i] = 0 }
        let plan = MemoryPlanner.plan(g, byteSizes: arenaSizes)
        var r = GraphRewriter(g, pass: "memory-plan")
        for v in g.values {
            var node = g[v]
            node.inputs = try r.remapInputs(of: v)
            let kept = cached?.keptOffsets[v.id], temporary = cached?.temporaryOffsets[v.id]
            let inArena = kept == nil && temporary == nil
            node.attributes["arena"] = inArena ? .ints([plan.offsets[v.id], sizes[v.id]]) : nil
            node.attributes["in_place"] = inArena ? plan.inPlaceOf[v.id].map { .string("%\($0)") } : nil
            node.attributes["cached"] = kept.map { .ints([$0, sizes[v.id]]) }
            node.attributes["cached_temp"] = temporary.map { .ints([$0, sizes[v.id]]) }
            r.emit(node, for: v)
        }
        r.target.metadata["arena_bytes"] = .int(plan.byteCount)
        r.target.metadata["arena_bytes_without_reuse"] = .int(arenaSizes.reduce(0) { $0 + ($1 + 63) / 64 * 64 })
        r.target.metadata["cached_bytes"] = cached.map { .int($0.keptBytes) }
        r.target.metadata["cached_temp_bytes"] = cached.map { .int($0.temporaryBytes) }
        context.count("values in place", plan.inPlaceOf.lazy.filter { $0 != nil }.count)
        context.count("arena bytes", plan.byteCount)
        if let d = derived, let c = cached, !d.nodes.isEmpty {
            context.count("values computed once", d.nodes.count)
            context.count("bytes computed once and kept", c.keptBytes)
        }
        return try r.finish()
    }
}
