import GraphIR

/// `data-parallel`: makes a training graph exchange its parameter gradients with the other
/// processes of a data-parallel job. The gradient outputs (`grad:<parameter>`), in the order
/// the backward produces them, are packed into buckets of at most `options.bucketBytes` (a
/// gradient larger than that gets a bucket of its own). Each bucket's `allreduce_start` is
/// placed right after the node that writes its last gradient, so communication runs while the
/// rest of the backward computes; every `allreduce_wait`, and the `bucket_slice`s that unpack
/// the summed gradients into the outputs, come at the end, just before the optimiser reads
/// them. The bucket is the start's result and the wait's input, so the memory plan keeps it
/// alive across the communication. A graph that already exchanges its gradients, or has no
/// gradient outputs, is returned as it is. Linear in the graph's size.
///
///     %7 = conv2d_grad_weight(%5, %0, %1) {...} : f32[4,1,3,3]
///     %8 = reduce_like(%5, %2) : f32[4]
///     %9 = matmul(%6, %3) {transpose_a=true} : f32[10,16]
///     output "grad:fc.w" = %9
///     output "grad:conv.w" = %7
///     output "grad:conv.b" = %8
/// becomes, with buckets of 256 bytes,
///     %7 = conv2d_grad_weight(%5, %0, %1) {...} : f32[4,1,3,3]
///     %8 = reduce_like(%5, %2) : f32[4]
///     %9 = matmul(%6, %3) {transpose_a=true} : f32[10,16]
///     %10 = allreduce_start(%7, %8) {bucket=0} : f32[40]
///     %11 = allreduce_start(%9) {bucket=1} : f32[160]
///     %12 = allreduce_wait(%10) {bucket=0} : f32[40]
///     %13 = bucket_slice(%12) {start=0, shape=shape[4,1,3,3]} : f32[4,1,3,3]
///     %14 = bucket_slice(%12) {start=36, shape=shape[4]} : f32[4]
///     %15 = allreduce_wait(%11) {bucket=1} : f32[160]
///     %16 = bucket_slice(%15) {start=0, shape=shape[10,16]} : f32[10,16]
///     output "grad:fc.w" = %16
///     output "grad:conv.w" = %13
///     output "grad:conv.b" = %14
extension Pass {
    public static let dataParallel = Pass(name: "data-parallel", summary: "all-reduce the parameter gradients between processes, in buckets started as the backward produces them") { g, context in
        let name = "data-parallel"
        let gradients = g.gradientOutputs
        guard !gradients.isEmpty, !g.nodes.contains(where: { $0.op == .allReduceStart || $0.op == .allReduceWait }) else { return g }
        let buckets = try DataParallelBuckets(g, gradients: gradients.map(\.value), bucketBytes: context.options.bucketBytes, pass: name)

        var r = GraphRewriter(g, pass: name)
        var started: [Value] = []
        for v in g.values {
            try r.copy(v)
            for b in buckets.startingAfter[v.id] {
                let inputs = try buckets.members[b].map { try r.remap($0, in: Value(g.nodes.count)) }
                let node = g[buckets.members[b].last ?? v]
                started.append(try r.builder(for: node).emit(.allReduceStart, inputs, ["bucket": .int(b)]))
            }
        }
        // The waits and unpacking, in the order the buckets were started; made by this pass,
        // not by a line of the model.
        r.target.location = nil
        r.target.scope = "data-parallel"
        var summed: [Int: Value] = [:]
        for (b, start) in started.enumerated() {
            let wait = try r.target.emit(.allReduceWait, [start], ["bucket": .int(b)])
            var offset = 0
            for member in buckets.members[b] {
                let type = g[member].type
                summed[member.id] = try r.target.emit(.bucketSlice, [wait], ["start": .int(offset), "shape": .shape(type.shape)])
                offset += type.shape.knownCount ?? 0
            }
        }
        context.count("buckets", started.count)
        context.count("gradients exchanged", summed.count)
        for o in g.outputs {
            if GradientOutput.parameter(of: o.name) != nil, let s = summed[o.value.id] {
                r.target.outputs.append((o.name, s))
            } else {
                r.target.outputs.append((o.name, try r.remap(o.value, in: Value(g.nodes.count))))
            }
        }
        if let l = g.loss { r.target.loss = try r.remap(l, in: Value(g.nodes.count)) }
        return r.target.finish()
    }
}

/// The buckets of a training graph's gradients: distinct gradient values in the order their
/// nodes run, cut into consecutive groups of at most `bucketBytes`.
struct DataParallelBuckets {
    /// Each bucket's gradient values, in packing order.
    var members: [[Value]] = []
    /// For each node, the buckets whose last gradient it writes (started right after it).
    var startingAfter: [[Int]]

    init(_ g: Graph, gradients: [Value], bucketBytes: Int, pass: String) throws {
        startingAfter = Array(repeating: [], count: g.nodes.count)
        var seen = Set<Int>()
        let ordered = gradients.filter { seen.insert($0.id).inserted }.sorted { $0.id < $1.id }
        var current: [Value] = [], bytes = 0
        func close() {
            guard let last = current.last else { return }
            startingAfter[last.id].append(members.count)
            members.append(current)
            current = []; bytes = 0
        }
        for v in ordered {
            let t = g[v].type
            guard t.dtype == .f32, let n = t.shape.knownCount else {
                throw nodeError(pass, g, v, "gradient \(t) cannot be exchanged: only f32 gradients of known shape are")
            }
            let size = n * 4
            if !current.isEmpty && bytes + size > bucketBytes { close() }
            current.append(v); bytes += size
        }
        close()
    }
}
