/// Values computed from parameters and constants only. They are the same in every run until a
/// parameter changes, so an executor computes them once, before its first run, into memory it
/// keeps, and again only after a weight changes. This is how onnxruntime prepacks weights and
/// TVM folds constants after `bind_params`. A packed convolution weight is one such value
/// (`pack_conv_weight(%w)`), and so is a BatchNorm folded into a scale and shift.
///
/// A node is parameter-derived when its op computes a function of its inputs (not `input` or
/// `param`, and not random like `dropout_mask` or `all_reduce`), every input is a parameter or
/// itself parameter-derived, and its shape is made of known numbers. A `constant` counts, since
/// it has no inputs. One scan in graph order, constant work per input: linear in the graph.
///
///     %w = param() {name="w"} : f32[32,16,3,3]
///     %x = input() {name="x"} : f32[B,16,8,8]
///     %v = param() {name="v"} : f32[32]
///     %e = constant() {value=1e-05} : f32[]
///     %a = add(%v, %e) : f32[32]          derived, read only by derived nodes: temporary
///     %s = sqrt(%a) : f32[32]             derived, read by a node of every run: kept
///     %p = pack_conv_weight(%w) {in_block=16} : f32[2,1,3,3,16,16]   derived, kept
///     %y = blocked_conv2d(%xb, %p, %s, ...)                          runs every time
///
/// A derived value that a node of every run reads, or that is a result of the graph, is
/// *kept*: its memory lives as long as the executor. One that only other derived nodes read
/// is *temporary*: it needs memory only while the derived values are computed.
public struct ParameterDerivedValues: Equatable, Sendable {
    /// Whether each node of the graph is parameter-derived.
    public let isDerived: [Bool]
    /// Parameter-derived nodes in graph order: what is computed once.
    public let nodes: [Int]
    /// Whether each node is a kept derived value (read by a node that runs every time, or a
    /// result of the graph).
    public let isKept: [Bool]

    public init(_ g: Graph) {
        let n = g.nodes.count
        var derived = [Bool](repeating: false, count: n)
        var fromParameters = [Bool](repeating: false, count: n)   // parameters, and derived values
        for (i, node) in g.nodes.enumerated() {
            if node.op == .param { fromParameters[i] = true; continue }
            guard node.op != .input, !node.op.isRandom, node.type.shape.resolved([:]) != nil,
                  node.inputs.allSatisfy({ $0.id < i && fromParameters[$0.id] }) else { continue }
            derived[i] = true
            fromParameters[i] = true
        }
        var kept = [Bool](repeating: false, count: n)
        for (i, node) in g.nodes.enumerated() where !derived[i] {
            for v in node.inputs where v.id < n && derived[v.id] { kept[v.id] = true }
        }
        for (_, v) in g.outputs where v.id < n && derived[v.id] { kept[v.id] = true }
        if let l = g.loss, l.id < n, derived[l.id] { kept[l.id] = true }
        isDerived = derived
        isKept = kept
        nodes = derived.indices.filter { derived[$0] }
    }

    /// The parameters (node ids) that only derived nodes read: not a result of the graph, and
    /// read by at least one node. Once the derived values are computed nothing reads them, so
    /// an executor need not hold them. Linear in the graph.
    public func parametersReadOnlyByDerivedNodes(_ g: Graph) -> Set<Int> {
        var readOnlyByDerived = [Bool](repeating: false, count: g.nodes.count)
        var readByOthers = [Bool](repeating: false, count: g.nodes.count)
        for (i, node) in g.nodes.enumerated() {
            for v in node.inputs where v.id < g.nodes.count {
                if isDerived[i] { readOnlyByDerived[v.id] = true } else { readByOthers[v.id] = true }
            }
        }
        for (_, v) in g.outputs where v.id < g.nodes.count { readByOthers[v.id] = true }
        if let l = g.loss, l.id < g.nodes.count { readByOthers[l.id] = true }
        var result = Set<Int>()
        for v in g.parameters where readOnlyByDerived[v.id] && !readByOthers[v.id] { result.insert(v.id) }
        return result
    }

    /// The kept derived values, in graph order.
    public var kept: [Int] { nodes.filter { isKept[$0] } }
    /// The temporary ones (only derived nodes read them), in graph order.
    public var temporary: [Int] { nodes.filter { !isKept[$0] } }

    /// Whether executors compute the derived values of `g` once by default: yes unless `g` is a
    /// training graph (it has gradient outputs), whose optimiser changes every weight at every
    /// step, so the values would be computed again each time anyway, and kept for nothing.
    public static func computedOnceByDefault(in g: Graph) -> Bool { g.gradientOutputs.isEmpty }

    /// Where the derived values live, given every value's byte size: the kept ones one after
    /// another in a region the executor keeps (`keptOffsets`, `keptBytes`), the temporary ones
    /// in a scratch region planned by lifetimes (`MemoryPlanner`) and needed only while they are
    /// computed (`temporaryOffsets`, `temporaryBytes`).
    public struct Layout: Equatable, Sendable {
        public var keptOffsets: [Int: Int]
        public var keptBytes: Int
        public var temporaryOffsets: [Int: Int]
        public var temporaryBytes: Int
    }

    public func layout(_ g: Graph, byteSizes: [Int], alignment: Int = 64) -> Layout {
        var keptOffsets: [Int: Int] = [:]
        var end = 0
        for i in nodes where isKept[i] {
            keptOffsets[i] = end
            end += (byteSizes[i] + alignment - 1) / alignment * alignment
        }
        // The planner sees only the temporary values (every other size 0): they are read only
        // by derived nodes, which run in graph order, so its lifetimes are right for them.
        var scratchSizes = [Int](repeating: 0, count: byteSizes.count)
        for i in nodes where !isKept[i] { scratchSizes[i] = byteSizes[i] }
        var temporaryOffsets: [Int: Int] = [:]
        var temporaryBytes = 0
        if scratchSizes.contains(where: { $0 > 0 }) {
            let plan = MemoryPlanner.plan(g, byteSizes: scratchSizes, alignment: alignment)
            for i in nodes where !isKept[i] { temporaryOffsets[i] = plan.offsets[i] }
            temporaryBytes = plan.byteCount
        } else {
            for i in nodes where !isKept[i] { temporaryOffsets[i] = 0 }
        }
        return Layout(keptOffsets: keptOffsets, keptBytes: end, temporaryOffsets: temporaryOffsets, temporaryBytes: temporaryBytes)
    }
}
