// Runtime: runs a typed graph on the CPU.
//
// Design
// - One `Executor` per graph. `init` checks, once, that every op has a CPU kernel (its
//   `KernelOp` extension in Runtime/Kernels, found in `CPUKernels.table`) and the right
//   number of inputs, and finds the i64 operands that index into tables (embedding ids,
//   NLL targets).
// - `run` binds the graph's symbolic dimensions (B, T) from the feeds' shapes. For each new
//   binding it builds a `BoundPlan`: every value's concrete shape, a `BufferPlan` (byte offset
//   of each value in one arena; the default gives every value its own region, a lifetime-based
//   planner can be plugged in), the arena, and one prepared `KernelContext` per node. Plans
//   are cached per binding, so a steady-state step with the same shapes allocates no tensor
//   memory: it copies the feeds in, copies parameters in only when the store says they
//   changed, calls each kernel on its prepared context, and copies the results out (`run`),
//   or leaves them in place for the caller to read (`execute` + `outputBuffer`).
// - Parameters live outside the per-binding arenas, in one region of their own shared by
//   every plan, so a trainer can update them in place (`parameterBuffer`) and the store is
//   brought up to date only when someone reads it (`ParameterStore.residence`).
// - Kernels cannot fail; everything that can go wrong with data is checked before a kernel
//   sees it: feed types and shapes, unbound symbols, parameter presence and shapes, and ids
//   or targets outside their table (checked just before the node that uses them, so ids made
//   inside the graph, e.g. by greedy decoding, are covered too).
// - `dropout_mask` draws from the executor's seeded generator when `training` is on (the
//   stream advances run after run; the same seed gives the same masks) and is all ones when
//   it is off.
// - Threads: `ExecutionOptions.threads` = N > 1 gives the executor a `WorkerPool` of N threads
//   (N - 1 workers plus the caller). Kernels split their work over it (convolutions and
//   pooling over images, matrix products over rows or columns, large elementwise loops over
//   elements) and call OpenBLAS single-threaded inside each chunk, so OpenBLAS is set to one
//   thread for this executor's runs: its own threading, which split only the GEMMs, would
//   oversubscribe the cores. N = 1 runs everything on the calling thread with one OpenBLAS
//   thread; nil keeps no pool and runs OpenBLAS at its own count (`BLASInfo.defaultThreads`,
//   not whatever the last executor with a pool left: one). OpenBLAS's count is
//   process-wide, so it is set before each run. `BLASInfo` reports which kernels it picked.
// - Values computed from parameters and constants only (`ParameterDerivedValues`: packed
//   convolution weights, folded BatchNorms) are computed once, before the first run, into a
//   region of their own that every plan shares, and again only when a parameter changed: a
//   new store, a new version of a weight in the store (a loaded checkpoint), or a write
//   through `parameterBuffer` (`noteParametersWritten`). Runs skip those nodes. Values only
//   other derived nodes read live in scratch memory freed once they are computed. On by
//   default except for training graphs (`ExecutionOptions.computesParameterValuesOnce`).
// - The graph is verified once at `init` (`Verifier`: arity, types, names); it must not
//   be changed afterwards.

import CBLAS
import GraphIR
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct ExecutionOptions {
    /// Dropout masks are random when true, all ones when false.
    public var training: Bool
    /// Seeds the generator behind dropout masks.
    public var seed: UInt64
    /// Threads for kernels (the worker pool's size; OpenBLAS then runs one thread per chunk);
    /// nil runs kernels on the calling thread, with OpenBLAS at its own thread count
    /// (`BLASInfo.defaultThreads`, whatever an executor with a pool set before).
    public var threads: Int?
    /// Chooses kernel variants by measurement (nil: `Tuner.shared`, off unless the program set it).
    public var tuner: Tuner?
    /// Compute values that depend only on parameters and constants once, and again only when a
    /// parameter changes (nil: yes unless the graph is a training graph, see
    /// `ParameterDerivedValues.computedOnceByDefault`).
    public var computesParameterValuesOnce: Bool?

    public init(training: Bool = false, seed: UInt64 = 0, threads: Int? = nil, tuner: Tuner? = nil,
                computesParameterValuesOnce: Bool? = nil) {
        self.training = training; self.seed = seed; self.threads = threads; self.tuner = tuner
        self.computesParameterValuesOnce = computesParameterValuesOnce
    }
}

public final class Executor {
    public let graph: Graph
    /// Switch between training (random dropout masks) and evaluation (ones) between runs.
    public var training: Bool

    private let planner: BufferPlanner
    /// OpenBLAS threads for this executor's runs (set before each run: the count is
    /// process-wide and a trainer and an evaluator may want different ones): one per chunk
    /// with a pool, else OpenBLAS's own count.
    private let threads: Int
    /// The threads kernels split their work over.
    public let pool: WorkerPool
    private let inputs: [Value]
    private let parameters: [Value]
    private let indexChecks: [Int: IndexCheck]
    private let workspace = Workspace()
    private var random: RandomSource
    private var plans: [[String: Int]: BoundPlan] = [:]
    /// Parameter values, shared by every plan: parameter node id -> its region.
    private let parameterArena: UnsafeMutableRawPointer
    private let parameterViews: [Int: TensorView]
    private let parameterBytes: Int
    private let parameterIndex: [String: Int]
    /// Parameters only derived nodes read (see init): no region in `parameterArena`; copied
    /// from the store into scratch only while the derived values are computed.
    private let derivedOnlyParameters: [(id: Int, shape: [Int])]
    /// Copies of such parameters made when a caller asked for one (`parameterBuffer`); from
    /// then on they are held like the others.
    private var materialized: [Int: TensorView] = [:]

    /// The executor's own copy of parameter `id`, if it holds one.
    private func heldView(_ id: Int) -> TensorView? { parameterViews[id] ?? materialized[id] }
    /// Which store, and which version of each parameter, `parameterArena` currently holds.
    private weak var lastStore: ParameterStore?
    private var copiedVersions: [Int: UInt64] = [:]
    private let outputIndex: [String: Value]
    /// Parameters whose shapes name a symbol: refused at the first run (after the feeds'
    /// own checks, which explain unbound symbols better).
    private let symbolicParameters: [String]
    private(set) var lastPlan: BoundPlan?
    /// Plans kept at once; a loop alternating between a few batch sizes stays cached.
    private let planCacheLimit = 8

    /// The values computed once from parameters (nil: computed in every run, as other nodes).
    public let parameterDerived: ParameterDerivedValues?
    /// Where they live: the kept ones in `derivedArena`, the temporary ones in scratch
    /// allocated while they are computed.
    private let derivedLayout: ParameterDerivedValues.Layout?
    private let derivedArena: UnsafeMutableRawPointer?
    /// Views of the kept derived values (fixed for the executor's life, like parameters').
    private let derivedViews: [Int: TensorView]
    /// True until the derived values hold what the current parameters give.
    private var derivedStale = true
    /// How many times the derived values were computed, and the seconds it took in all.
    public private(set) var parameterDerivedComputations = 0
    public private(set) var parameterDerivedSeconds = 0.0
    /// Bytes the kept derived values take (counted in `memorySummary`).
    public var parameterDerivedBytes: Int { derivedLayout?.keptBytes ?? 0 }
    /// Bytes of scratch the temporary derived values need while they are computed.
    public var parameterDerivedScratchBytes: Int { derivedLayout?.temporaryBytes ?? 0 }

    /// When on, `run` adds each node's wall time (seconds) to `nodeSeconds[node index]`.
    public var measuresTime = false {
        didSet { if measuresTime && nodeSeconds.count != graph.nodes.count { resetTimes() } }
    }
    public private(set) var nodeSeconds: [Double] = []
    /// Time with the calling thread's CPU clock instead of the wall clock: steadier on a
    /// busy machine, and right when kernels run on this thread only (one BLAS thread).
    public var measuresThreadTime = false
    /// Runs whose times `nodeSeconds` holds.
    public private(set) var timedRuns = 0
    /// Floating-point operations of each node summed over the timed runs (`OpSpec.flops`),
    /// so rates stay right when runs had different batch sizes.
    public private(set) var nodeFlops: [Double] = []
    public func resetTimes() {
        nodeSeconds = [Double](repeating: 0, count: graph.nodes.count)
        nodeFlops = nodeSeconds
        timedRuns = 0
    }
    /// When on, every f32 output is checked right after its kernel and the first NaN or
    /// infinity stops the run with a `NumericsFinding` (`--check-numerics`; see NumericsCheck).
    /// Turning it on also computes the parameter-derived values again, under the check.
    public var checksNumerics = false {
        didSet { if checksNumerics && !oldValue { derivedStale = true } }
    }
    /// Every value's concrete shape in the last run (nil before any run).
    public var lastShapes: [[Int]]? { lastPlan?.shapes }

    public init(graph: Graph, options: ExecutionOptions, planner: @escaping BufferPlanner = { _, sizes in .onePerValue(byteSizes: sizes) }) throws {
        self.graph = graph
        self.training = options.training
        self.planner = planner
        random = RandomSource(seed: options.seed)
        let t = options.threads.map { max($0, 1) }
        let tuner = options.tuner ?? Tuner.shared
        pool = tuner.mode == .off && (t ?? 1) == 1 ? .serial : WorkerPool(threads: t ?? 1, tuner: tuner)
        // With a pool, parallelism is the pool's: one OpenBLAS thread per chunk.
        threads = t.map { _ in 1 } ?? BLASInfo.defaultThreads
        BLASInfo.setThreads(threads)

        // Kernels trust recorded types for memory sizes and names for feeds, so a graph that
        // breaks an invariant (hand-made, or mis-rewritten by a pass) stops here.
        do { try Verifier.check(graph) } catch {
            throw RuntimeError("graph '\(graph.name)' cannot run: \(error)")
        }
        var missing: [String] = []
        for (i, node) in graph.nodes.enumerated() where node.op != .input && node.op != .param && CPUKernels.kernel(for: node.op) == nil {
            missing.append("\(node.op.name) (%\(i))")
        }
        guard missing.isEmpty else { throw RuntimeError("no CPU kernel for: \(missing.joined(separator: ", "))") }
        inputs = graph.inputs
        parameters = graph.parameters
        indexChecks = IndexCheck.checks(for: graph)

        let derived = ParameterDerivedValues(graph)
        let computesOnce = (options.computesParameterValuesOnce ?? ParameterDerivedValues.computedOnceByDefault(in: graph)) && !derived.nodes.isEmpty
        // A parameter that only derived nodes read (a convolution weight once packed or
        // transformed) needs no copy of its own here: it is read from the store, into scratch,
        // while the derived values are computed, as onnxruntime drops weights once prepacked.
        // The store keeps it (checkpoints, `set`, new derived values after a change).
        let onlyDerived = computesOnce && graph.gradientOutputs.isEmpty ? derived.parametersReadOnlyByDerivedNodes(graph) : []
        var transient: [(id: Int, shape: [Int])] = []
        var offsets: [(Int, Int, [Int])] = []
        var end = 0
        var index: [String: Int] = [:]
        var symbolic: [String] = []
        for v in parameters {
            let node = graph[v]
            guard let shape = node.type.shape.resolved([:]) else {
                symbolic.append("'\(node.name ?? "%\(v.id)")' (\(node.type))")
                continue
            }
            if let name = node.name { index[name] = v.id }
            if onlyDerived.contains(v.id) { transient.append((v.id, shape)); continue }
            offsets.append((v.id, end, shape))
            end += (shape.reduce(1, *) * node.type.dtype.byteSize + 63) / 64 * 64
        }
        parameterBytes = end
        symbolicParameters = symbolic
        parameterArena = UnsafeMutableRawPointer.allocate(byteCount: max(end, 1), alignment: 64)
        parameterArena.initializeMemory(as: UInt8.self, repeating: 0, count: max(end, 1))
        var views: [Int: TensorView] = [:]
        for (id, offset, shape) in offsets { views[id] = TensorView(data: parameterArena + offset, shape: shape, dtype: graph.nodes[id].type.dtype) }
        parameterViews = views
        parameterIndex = index
        derivedOnlyParameters = transient
        var outs: [String: Value] = [:]
        for (name, v) in graph.outputs { outs[name] = v }
        if let l = graph.loss, outs["loss"] == nil { outs["loss"] = l }
        outputIndex = outs

        if computesOnce {
            let sizes = try graph.nodes.enumerated().map { i, node -> Int in
                guard derived.isDerived[i] else { return 0 }
                let bytes = node.type.shape.resolved([:]).flatMap { MemoryBudget.bytes(elements: $0, byteSize: node.type.dtype.byteSize) }
                try MemoryBudget.check(bytes, for: "the values computed from parameters")
                return bytes ?? 0
            }
            let layout = derived.layout(graph, byteSizes: sizes)
            try MemoryBudget.check(layout.keptBytes + layout.temporaryBytes, for: "the values computed from parameters")
            let arena = UnsafeMutableRawPointer.allocate(byteCount: max(layout.keptBytes, 1), alignment: 64)
            arena.initializeMemory(as: UInt8.self, repeating: 0, count: max(layout.keptBytes, 1))
            var derivedViews: [Int: TensorView] = [:]
            for (i, offset) in layout.keptOffsets {
                let node = graph.nodes[i]
                derivedViews[i] = TensorView(data: arena + offset, shape: node.type.shape.resolved([:]) ?? [], dtype: node.type.dtype)
            }
            parameterDerived = derived
            derivedLayout = layout
            derivedArena = arena
            self.derivedViews = derivedViews
        } else {
            parameterDerived = nil
            derivedLayout = nil
            derivedArena = nil
            derivedViews = [:]
        }
    }

    deinit {
        parameterArena.deallocate()
        derivedArena?.deallocate()
        for view in materialized.values { view.data.deallocate() }
    }

    /// Restarts the dropout generator (prepared plans hold the old one, so they are dropped).
    public func reseed(_ seed: UInt64) {
        random = RandomSource(seed: seed)
        plans.removeAll()
    }

    /// Runs the whole graph. Returns `graph.outputs` by name, plus "loss" when the graph has one.
    public func run(feeds: [String: HostTensor], parameters store: ParameterStore) throws -> [String: HostTensor] {
        let plan = try execute(feeds: feeds, parameters: store)
        var results: [String: HostTensor] = [:]
        for (name, v) in graph.outputs { results[name] = plan.tensor(v) }
        if let loss = graph.loss { results["loss"] = plan.tensor(loss) }
        return results
    }

    /// Runs the whole graph and leaves every result in executor memory: read them with
    /// `outputBuffer(named:)` (valid until the next run).
    /// `written`: feeds the caller writes into the input's memory here (see `FeedWriter`)
    /// instead of tensors copied in.
    @discardableResult
    public func execute(feeds: [String: HostTensor], writing written: [String: FeedWriter] = [:], parameters store: ParameterStore) throws -> BoundPlan {
        let bindings = try FeedBinding.bind(graph, inputs: inputs, feeds: feeds, written: written)
        let plan = try plan(for: bindings)
        lastPlan = plan

        for v in inputs {
            guard let name = graph[v].name else { continue }
            let view = plan.views[v.id]
            if let reduction = reducedInputs[v.id] {
                try takeReduced(ReducedFeed(reduction: reduction, fedShape: (feeds[name]?.shape ?? written[name]?.shape) ?? [],
                                            shape: view.shape, scratch: workspace),
                                feed: feeds[name], writer: written[name], into: view.data)
            } else if let feed = feeds[name] {
                feed.copyBytes(to: view.data, count: view.count, rows: view.shape.first ?? 1, pool: pool)
            } else if let writer = written[name] { try writer.write(view.data, pool) }
        }
        if try copyParameters(from: store, into: plan) || derivedStale { try computeParameterDerived(plan, store: store) }
        if measuresTime {
            timedRuns += 1
            for (i, f) in plan.flops where i < nodeFlops.count { nodeFlops[i] += f }
        }
        if BLASInfo.threads != threads { BLASInfo.setThreads(threads) }

        for step in plan.steps {
            if let check = step.check {
                try check.run(ids: plan.views[check.ids.id], limit: plan.shapes[check.limitValue.id][check.limitAxis])
            }
            // An op computed in place overwrites its operand: summarised first when checking.
            let overwritten = checksNumerics ? overwrittenOperands(step) : [:]
            let start = measuresTime ? (measuresThreadTime ? threadSeconds() : monotonicSeconds()) : 0
            if step.isDropoutMask && !training {
                step.context.output.f32.update(repeating: 1, count: step.context.output.count)
            } else if !kernelReplacements.isEmpty, let replacement = kernelReplacements[step.node] {
                replacement(step.context)
            } else {
                step.kernel(step.context)
            }
            if measuresTime { nodeSeconds[step.node] += (measuresThreadTime ? threadSeconds() : monotonicSeconds()) - start }
            if checksNumerics, let finding = finding(for: step, in: plan, overwritten: overwritten) { throw finding }
        }
        return plan
    }

    /// Inputs taken reduced (`FeedReduction`), by node id.
    private lazy var reducedInputs: [Int: FeedReduction] = {
        var r: [Int: FeedReduction] = [:]
        for v in inputs { if let f = try? FeedReduction.of(graph[v]) { r[v.id] = f } }   // verified at init
        return r
    }()

    /// An input taken reduced, from its feed (bound and checked already): a tensor reduced as
    /// it is taken, a writer's reduced write, or its full write into scratch then reduced.
    private func takeReduced(_ reduced: ReducedFeed, feed: HostTensor?, writer: FeedWriter?, into destination: UnsafeMutableRawPointer) throws {
        if let t = feed, case .f32(let values) = t.storage {
            // An empty feed has no address; nothing is read from it then.
            values.withUnsafeBufferPointer { b in
                reduced.reduce(b.baseAddress ?? UnsafePointer(destination.assumingMemoryBound(to: Float.self)), into: destination, pool: pool)
            }
        } else if let w = writer, let writeReduced = w.writeReduced {
            try writeReduced(reduced, destination, pool)
        } else if let w = writer {
            let scratch = workspace.floats(reduced.fedShape.reduce(1, *))
            try w.write(UnsafeMutableRawPointer(scratch), pool)
            reduced.reduce(scratch, into: destination, pool: pool)
        }
    }

    /// Runs `kernel` in place of `node`'s own kernel in later runs (nil: the node's own again),
    /// with the node's inputs and output as usual. For the trainer's optimiser step fused into
    /// a weight gradient (see `FusedWeightUpdate`): the caller answers for what it computes.
    public func replaceKernel(ofNode node: Int, with kernel: KernelFunction?) {
        guard node >= 0 && node < graph.nodes.count else { return }
        if kernelReplacements.isEmpty {
            guard kernel != nil else { return }
            kernelReplacements = [KernelFunction?](repeating: nil, count: graph.nodes.count)
        }
        kernelReplacements[node] = kernel
        if !kernelReplacements.contains(where: { $0 != nil }) { kernelReplacements = [] }
    }
    private var kernelReplacements: [KernelFunction?] = []

    /// The nodes of the last run's steps (in the order they ran) that read memory overlapping
    /// `buffer`'s, through any value (a view of it or the buffer itself); nil before a run.
    public func stepsReading(_ buffer: UnsafeMutableBufferPointer<Float>) -> [Int]? {
        guard let plan = lastPlan, let base = buffer.baseAddress else { return nil }
        let lo = UnsafeRawPointer(base), hi = lo + buffer.count * 4
        return plan.steps.compactMap { step in
            step.context.inputs.contains { v in
                let start = UnsafeRawPointer(v.data), end = start + v.count * v.dtype.byteSize
                return v.count > 0 && start < hi && lo < end
            } ? step.node : nil
        }
    }

    /// The nodes of the last run's steps, in the order they ran; nil before a run.
    public var lastStepNodes: [Int]? { lastPlan?.steps.map(\.node) }

    /// Plans memory for the feeds' shapes without running (so the plan can be reported
    /// before the first step).
    public func prepare(feeds: [String: HostTensor]) throws {
        lastPlan = try plan(for: try FeedBinding.bind(graph, inputs: inputs, feeds: feeds))
    }

    /// The f32 output (or "loss") of the last run, in place; nil before a run or for an
    /// unknown name or an i64 output.
    public func outputBuffer(named name: String) -> UnsafeMutableBufferPointer<Float>? {
        guard let plan = lastPlan, let v = outputIndex[name] else { return nil }
        let view = plan.views[v.id]
        guard view.dtype == .f32 else { return nil }
        return view.floats
    }

    /// The executor's own copy of an f32 parameter, which kernels read; writing it changes
    /// the weights the next run uses (call `noteParametersWritten` so readers of the store
    /// see the change).
    public func parameterBuffer(named name: String) -> UnsafeMutableBufferPointer<Float>? {
        guard let id = parameterIndex[name] else { return nil }
        if heldView(id) == nil, let shape = derivedOnlyParameters.first(where: { $0.id == id })?.shape {
            // A parameter only derived values read gets its copy now, with the last store's value.
            let dtype = graph.nodes[id].type.dtype, count = shape.reduce(1, *)
            let data = UnsafeMutableRawPointer.allocate(byteCount: max(count * dtype.byteSize, 1), alignment: 64)
            data.initializeMemory(as: UInt8.self, repeating: 0, count: max(count * dtype.byteSize, 1))
            let view = TensorView(data: data, shape: shape, dtype: dtype)
            if let store = lastStore {
                if store.residence !== self { store.synchronize() }
                if let t = store.peek(name), t.dtype == dtype, t.shape == shape, t.storedCount == t.count { t.copyBytes(to: data, count: count) }
            }
            materialized[id] = view
        }
        guard let view = heldView(id), view.dtype == .f32 else { return nil }
        // The caller may write through it: what was computed from the weights is recomputed.
        derivedStale = true
        return view.floats
    }

    /// Makes this executor's parameter memory the newest copy of `store`'s weights once the
    /// caller has written into `parameterBuffer`s: the store fetches them back lazily, the
    /// first time anyone reads it.
    public func noteParametersWritten(to store: ParameterStore) {
        derivedStale = true
        store.residence = self
        store.residenceIsNewer = true
    }

    /// Copies every parameter back into `store` (the store calls this when it is read while
    /// this executor holds newer values) and remembers the new versions, so the next run does
    /// not copy them in again.
    func writeBack(into store: ParameterStore) {
        for v in parameters {
            guard let name = graph[v].name, let view = heldView(v.id) else { continue }
            if let version = store.overwrite(name, from: UnsafeRawPointer(view.data), count: view.count, dtype: view.dtype),
               lastStore === store {
                copiedVersions[v.id] = version
            }
        }
    }

    /// Bytes of the executor's memory, for the summary printed before training.
    public var memorySummary: MemorySummary? {
        guard let plan = lastPlan else { return nil }
        var outputs = 0
        for (_, v) in graph.outputs { outputs += plan.views[v.id].count * plan.views[v.id].dtype.byteSize }
        return MemorySummary(parameters: parameterBytes, arena: plan.arenaBytes, outputs: outputs,
                             workspace: workspace.byteCount, optimizerState: 0, unplannedBytes: plan.unplannedBytes,
                             parameterDerived: parameterDerivedBytes)
    }

    /// The last computed value of `v` (for tests and debugging); nil before any run, and for a
    /// temporary parameter-derived value (its memory is freed once the kept ones are computed).
    /// A parameter the executor holds no copy of is read from the store of the last run.
    public func value(_ v: Value) -> HostTensor? {
        guard let plan = lastPlan, v.id >= 0, v.id < plan.views.count else { return nil }
        if let d = parameterDerived, d.isDerived[v.id], !d.isKept[v.id] { return nil }
        if graph.nodes[v.id].op == .param, heldView(v.id) == nil {
            guard let store = lastStore else { return nil }
            if store.residence !== self { store.synchronize() }
            return store.get(graph.nodes[v.id].name ?? "%\(v.id)")
        }
        return plan.tensor(v)
    }

    /// Computes the parameter-derived values from the parameters now in executor memory: the
    /// derived nodes in graph order, the kept ones into `derivedArena`, the temporary ones
    /// into scratch freed at the end. Index checks and `checksNumerics` apply as in a run.
    private func computeParameterDerived(_ plan: BoundPlan, store: ParameterStore) throws {
        guard let derived = parameterDerived, let layout = derivedLayout else { return }
        derivedStale = true   // until every node has run
        let start = monotonicSeconds()
        let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(layout.temporaryBytes, 1), alignment: 64)
        defer { scratch.deallocate() }
        var views = plan.views
        for (i, offset) in layout.temporaryOffsets {
            let node = graph.nodes[i]
            views[i] = TensorView(data: scratch + offset, shape: node.type.shape.resolved([:]) ?? [], dtype: node.type.dtype)
        }
        // A parameter only derived nodes read is copied from the store just before its first
        // reader and freed after its last, so at most a few weights are copied at once.
        var shapes: [Int: [Int]] = [:], lastReader: [Int: Int] = [:]
        for (id, shape) in derivedOnlyParameters where materialized[id] == nil { shapes[id] = shape }
        for i in derived.nodes { for v in graph.nodes[i].inputs where shapes[v.id] != nil { lastReader[v.id] = i } }
        var loaded: [Int: UnsafeMutableRawPointer] = [:]
        defer { for p in loaded.values { p.deallocate() } }
        for (id, _) in derivedOnlyParameters { if let held = materialized[id] { views[id] = held } }
        if BLASInfo.threads != threads { BLASInfo.setThreads(threads) }
        for i in derived.nodes {
            let node = graph.nodes[i]
            for v in node.inputs where loaded[v.id] == nil {
                guard let shape = shapes[v.id] else { continue }
                let param = graph.nodes[v.id], name = param.name ?? "%\(v.id)"
                guard let t = store.peek(name) else {
                    throw RuntimeError("missing parameter '\(name)' (\(param.type)); initialise the store from the graph or load it")
                }
                let data = UnsafeMutableRawPointer.allocate(byteCount: max(shape.reduce(1, *) * param.type.dtype.byteSize, 1), alignment: 64)
                loaded[v.id] = data
                views[v.id] = TensorView(data: data, shape: shape, dtype: param.type.dtype)
                t.copyBytes(to: data, count: views[v.id].count)
            }
            guard let kernel = CPUKernels.kernel(for: node.op) else { continue }   // checked at init
            let context = KernelContext(inputs: node.inputs.map { views[$0.id] }, output: views[i],
                                        attributes: node.attributes, workspace: workspace, random: random, pool: pool)
            let step = BoundPlan.Step(node: i, kernel: kernel, context: context, isDropoutMask: false, check: indexChecks[i])
            if let check = step.check {
                try check.run(ids: views[check.ids.id], limit: views[check.limitValue.id].shape[check.limitAxis])
            }
            let overwritten = checksNumerics ? overwrittenOperands(step) : [:]
            kernel(context)
            if checksNumerics, let finding = finding(for: step, views: views, overwritten: overwritten) { throw finding }
            for v in node.inputs where lastReader[v.id] == i {
                loaded.removeValue(forKey: v.id)?.deallocate()
                views[v.id] = plan.views[v.id]
            }
        }
        derivedStale = false
        parameterDerivedComputations += 1
        parameterDerivedSeconds += monotonicSeconds() - start
    }

    private func plan(for bindings: [String: Int]) throws -> BoundPlan {
        if let p = plans[bindings] { return p }
        let shapes = try FeedBinding.resolveShapes(graph, bindings: bindings)
        guard symbolicParameters.isEmpty else {
            throw RuntimeError("parameter \(symbolicParameters.joined(separator: ", ")): parameter shapes must be known numbers")
        }
        // Parameters live in their own region: the arena holds no room for them.
        // Sizes come from the bindings (a batch from a flag or a file): checked against the
        // memory budget, with overflow, before the arena is allocated.
        let what = "the plan for " + (bindings.isEmpty ? "this graph" : bindings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))
        let derived = parameterDerived?.isDerived
        let sizes = try zip(graph.nodes, shapes).enumerated().map { i, pair -> Int in
            let (node, s) = pair
            if node.op == .param || derived?[i] == true { return 0 }
            let bytes = MemoryBudget.bytes(elements: s, byteSize: node.type.dtype.byteSize)
            try MemoryBudget.check(bytes, for: what)
            return bytes ?? 0
        }
        let layout = planner(graph, sizes)
        try MemoryBudget.check(layout.byteCount, for: what)
        try layout.validate(byteSizes: sizes)
        // Parameters and kept derived values have memory of their own; temporary derived
        // values none in a plan (nothing a run computes reads them).
        var fixedViews = parameterViews.merging(derivedViews) { a, _ in a }
        if let d = parameterDerived {
            for i in d.nodes where !d.isKept[i] { fixedViews[i] = TensorView(data: parameterArena, shape: [0], dtype: graph.nodes[i].type.dtype) }
            for (id, _) in derivedOnlyParameters { fixedViews[id] = TensorView(data: parameterArena, shape: [0], dtype: graph.nodes[id].type.dtype) }
        }
        let p = BoundPlan(graph: graph, shapes: shapes, layout: layout, fixedViews: fixedViews, skipped: parameterDerived?.isDerived,
                          checks: indexChecks, workspace: workspace, random: random, pool: pool,
                          unplannedBytes: BufferPlan.onePerValue(byteSizes: sizes).byteCount)
        if plans.count >= planCacheLimit { plans.removeAll() }
        plans[bindings] = p
        return p
    }

    /// Returns whether any parameter's value changed (was copied in).
    private func copyParameters(from store: ParameterStore, into plan: BoundPlan) throws -> Bool {
        var changed = false
        // Another executor (a trainer's) may hold newer weights than the store: fetch them.
        if store.residence !== self { store.synchronize() }
        if lastStore !== store {
            copiedVersions.removeAll(keepingCapacity: true)
            lastStore = store
        }
        for v in parameters {
            let node = graph[v]
            let name = node.name ?? "%\(v.id)"
            let version = store.version(of: name)
            if version != 0 && copiedVersions[v.id] == version { continue }
            guard let t = store.peek(name) else {
                throw RuntimeError("missing parameter '\(name)' (\(node.type)); initialise the store from the graph or load it")
            }
            let shape = plan.shapes[v.id]
            guard t.dtype == node.type.dtype, t.shape == shape, t.storedCount == t.count else {
                throw RuntimeError("parameter '\(name)' is \(t.dtype.rawValue)\(t.shape) with \(t.storedCount) values but the graph declares \(node.type)")
            }
            // A parameter only derived nodes read is copied when they are computed.
            if let view = heldView(v.id) { t.copyBytes(to: view.data, count: view.count) }
            copiedVersions[v.id] = version
            changed = true
        }
        return changed
    }
}

/// Everything prepared for one binding of the symbolic dims: shapes, memory, kernel contexts.
public final class BoundPlan {
    struct Step {
        let node: Int
        let kernel: KernelFunction
        let context: KernelContext
        let isDropoutMask: Bool
        let check: IndexCheck?
    }

    let shapes: [[Int]]
    let views: [TensorView]
    let steps: [Step]
    private let arena: UnsafeMutableRawPointer
    /// (node, operations) for the contractions, from this binding's shapes.
    let flops: [(Int, Double)]
    /// Bytes of the arena, and what it would take with one region per value.
    let arenaBytes: Int
    let unplannedBytes: Int

    /// `fixedViews`: values with memory outside the arena (parameters, parameter-derived
    /// values); `skipped`: nodes computed elsewhere (the parameter-derived ones), not steps.
    init(graph: Graph, shapes: [[Int]], layout: BufferPlan, fixedViews: [Int: TensorView], skipped: [Bool]?, checks: [Int: IndexCheck],
         workspace: Workspace, random: RandomSource, pool: WorkerPool, unplannedBytes: Int) {
        self.shapes = shapes
        arenaBytes = layout.byteCount
        self.unplannedBytes = unplannedBytes
        arena = UnsafeMutableRawPointer.allocate(byteCount: max(layout.byteCount, 1), alignment: 64)
        arena.initializeMemory(as: UInt8.self, repeating: 0, count: max(layout.byteCount, 1))
        var views: [TensorView] = []
        views.reserveCapacity(graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() {
            if let p = fixedViews[i] { views.append(p); continue }
            views.append(TensorView(data: arena + layout.offsets[i], shape: shapes[i], dtype: node.type.dtype))
        }
        var steps: [Step] = []
        for (i, node) in graph.nodes.enumerated() {
            guard let kernel = CPUKernels.kernel(for: node.op), skipped?[i] != true else { continue }   // inputs, parameters, derived
            let context = KernelContext(inputs: node.inputs.map { views[$0.id] }, output: views[i],
                                        attributes: node.attributes, workspace: workspace, random: random, pool: pool)
            steps.append(Step(node: i, kernel: kernel, context: context, isDropoutMask: node.op == .dropoutMask, check: checks[i]))
        }
        self.views = views
        self.steps = steps
        flops = graph.nodes.enumerated().compactMap { i, node in
            if skipped?[i] == true { return nil }
            let f = node.op.flops(CostQuery(inputs: node.inputs.map { shapes[$0.id] }, output: shapes[i], attributes: node.attributes))
            return f > 0 ? (i, f) : nil
        }
    }

    deinit { arena.deallocate() }

    func tensor(_ v: Value) -> HostTensor {
        let view = views[v.id]
        return HostTensor(copying: view.data, shape: view.shape, dtype: view.dtype)
    }
}

/// CPU seconds the calling thread has used.
@inline(__always)
func threadSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Seconds on a clock that never goes backwards.
@inline(__always)
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
