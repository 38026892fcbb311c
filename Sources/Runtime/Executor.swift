// Runtime: runs a typed graph on the CPU.
//
// Design
// - One `Executor` per graph. `init` checks, once, that every op has a CPU kernel (its
//   `KernelOp` extension in GraphIR/Ops) and the right number of inputs, and finds the i64
//   operands that index into tables (embedding ids, NLL targets).
// - `run` binds the graph's symbolic dimensions (B, T) from the feeds' shapes. For each new
//   binding it builds a `BoundPlan`: every value's concrete shape, a `BufferPlan` (byte offset
//   of each value in one arena; the default gives every value its own region, a lifetime-based
//   planner can be plugged in), the arena, and one prepared `KernelContext` per node. Plans
//   are cached per binding, so a steady-state step with the same shapes allocates no tensor
//   memory: it copies the feeds in, copies parameters in only when the store says they
//   changed, calls each kernel on its prepared context, and copies the results out.
// - Kernels cannot fail; everything that can go wrong with data is checked before a kernel
//   sees it: feed types and shapes, unbound symbols, parameter presence and shapes, and ids
//   or targets outside their table (checked just before the node that uses them, so ids made
//   inside the graph, e.g. by greedy decoding, are covered too).
// - `dropout_mask` draws from the executor's seeded generator when `training` is on (the
//   stream advances run after run; the same seed gives the same masks) and is all ones when
//   it is off.
// - Matrix products go to OpenBLAS; `ExecutionOptions.threads` sets its (process-wide) thread
//   count and `BLASInfo` reports which kernels it picked. At batch 8 the products are small
//   enough that one thread beats two on a busy 2-core machine.
// - The graph is verified once at `init` (the `verify` pass: arity, types, names); it must not
//   be changed afterwards.

import CBLAS
import GraphIR
import Passes
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
    /// OpenBLAS threads; nil leaves OpenBLAS's own choice.
    public var threads: Int?

    public init(training: Bool = false, seed: UInt64 = 0, threads: Int? = nil) {
        self.training = training; self.seed = seed; self.threads = threads
    }
}

public final class Executor {
    public let graph: Graph
    /// Switch between training (random dropout masks) and evaluation (ones) between runs.
    public var training: Bool

    private let planner: BufferPlanner
    private let inputs: [Value]
    private let parameters: [Value]
    private let indexChecks: [Int: IndexCheck]
    private let workspace = Workspace()
    private var random: RandomSource
    private var plans: [[String: Int]: BoundPlan] = [:]
    private(set) var lastPlan: BoundPlan?
    /// Plans kept at once; a loop alternating between a few batch sizes stays cached.
    private let planCacheLimit = 8

    /// When on, `run` adds each node's wall time (seconds) to `nodeSeconds[node index]`.
    public var measuresTime = false {
        didSet { if measuresTime && nodeSeconds.count != graph.nodes.count { resetTimes() } }
    }
    public private(set) var nodeSeconds: [Double] = []
    public func resetTimes() { nodeSeconds = [Double](repeating: 0, count: graph.nodes.count) }

    public init(graph: Graph, options: ExecutionOptions, planner: @escaping BufferPlanner = { _, sizes in .onePerValue(byteSizes: sizes) }) throws {
        self.graph = graph
        self.training = options.training
        self.planner = planner
        random = RandomSource(seed: options.seed)
        if let t = options.threads { BLASInfo.setThreads(t) }

        // Kernels trust recorded types for memory sizes and names for feeds, so a graph that
        // breaks an invariant (hand-made, or mis-rewritten by a pass) stops here.
        do { _ = try Pass.verify.run(graph) } catch {
            throw RuntimeError("graph '\(graph.name)' cannot run: \(error)")
        }
        var missing: [String] = []
        for (i, node) in graph.nodes.enumerated() where node.op != .input && node.op != .param && node.op.kernel == nil {
            missing.append("\(node.op.name) (%\(i))")
        }
        guard missing.isEmpty else { throw RuntimeError("no CPU kernel for: \(missing.joined(separator: ", "))") }
        inputs = graph.inputs
        parameters = graph.parameters
        indexChecks = IndexCheck.checks(for: graph)
    }

    /// Restarts the dropout generator (prepared plans hold the old one, so they are dropped).
    public func reseed(_ seed: UInt64) {
        random = RandomSource(seed: seed)
        plans.removeAll()
    }

    /// Runs the whole graph. Returns `graph.outputs` by name, plus "loss" when the graph has one.
    public func run(feeds: [String: HostTensor], parameters store: ParameterStore) throws -> [String: HostTensor] {
        let bindings = try FeedBinding.bind(graph, inputs: inputs, feeds: feeds)
        let plan = try plan(for: bindings)
        lastPlan = plan

        for v in inputs {
            guard let name = graph[v].name, let feed = feeds[name] else { continue }
            let view = plan.views[v.id]
            feed.copyBytes(to: view.data, count: view.count)
        }
        try copyParameters(from: store, into: plan)

        for step in plan.steps {
            if let check = step.check {
                try check.run(ids: plan.views[check.ids.id], limit: plan.shapes[check.limitValue.id][check.limitAxis])
            }
            let start = measuresTime ? monotonicSeconds() : 0
            if step.isDropoutMask && !training {
                step.context.output.f32.update(repeating: 1, count: step.context.output.count)
            } else {
                step.kernel(step.context)
            }
            if measuresTime { nodeSeconds[step.node] += monotonicSeconds() - start }
        }

        var results: [String: HostTensor] = [:]
        for (name, v) in graph.outputs { results[name] = plan.tensor(v) }
        if let loss = graph.loss { results["loss"] = plan.tensor(loss) }
        return results
    }

    /// The last computed value of `v` (for tests and debugging); nil before any run.
    public func value(_ v: Value) -> HostTensor? {
        guard let plan = lastPlan, v.id >= 0, v.id < plan.views.count else { return nil }
        return plan.tensor(v)
    }

    private func plan(for bindings: [String: Int]) throws -> BoundPlan {
        if let p = plans[bindings] { return p }
        let shapes = try FeedBinding.resolveShapes(graph, bindings: bindings)
        let sizes = zip(graph.nodes, shapes).map { node, s in s.reduce(1, *) * node.type.dtype.byteSize }
        let layout = planner(graph, sizes)
        try layout.validate(byteSizes: sizes)
        let p = BoundPlan(graph: graph, shapes: shapes, layout: layout, checks: indexChecks, workspace: workspace, random: random)
        if plans.count >= planCacheLimit { plans.removeAll() }
        plans[bindings] = p
        return p
    }

    private func copyParameters(from store: ParameterStore, into plan: BoundPlan) throws {
        if plan.lastStore !== store {
            plan.copiedVersions.removeAll(keepingCapacity: true)
            plan.lastStore = store
        }
        for v in parameters {
            let node = graph[v]
            let name = node.name ?? "%\(v.id)"
            let version = store.version(of: name)
            if version != 0 && plan.copiedVersions[v.id] == version { continue }
            guard let t = store.get(name) else {
                throw RuntimeError("missing parameter '\(name)' (\(node.type)); initialise the store from the graph or load it")
            }
            let shape = plan.shapes[v.id]
            guard t.dtype == node.type.dtype, t.shape == shape, t.storedCount == t.count else {
                throw RuntimeError("parameter '\(name)' is \(t.dtype.rawValue)\(t.shape) with \(t.storedCount) values but the graph declares \(node.type)")
            }
            let view = plan.views[v.id]
            t.copyBytes(to: view.data, count: view.count)
            plan.copiedVersions[v.id] = version
        }
    }
}

/// Everything prepared for one binding of the symbolic dims: shapes, memory, kernel contexts.
final class BoundPlan {
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
    /// Which store, and which version of each parameter, the arena currently holds.
    weak var lastStore: ParameterStore?
    var copiedVersions: [Int: UInt64] = [:]

    init(graph: Graph, shapes: [[Int]], layout: BufferPlan, checks: [Int: IndexCheck], workspace: Workspace, random: RandomSource) {
        self.shapes = shapes
        arena = UnsafeMutableRawPointer.allocate(byteCount: max(layout.byteCount, 1), alignment: 64)
        arena.initializeMemory(as: UInt8.self, repeating: 0, count: max(layout.byteCount, 1))
        var views: [TensorView] = []
        views.reserveCapacity(graph.nodes.count)
        for (i, node) in graph.nodes.enumerated() {
            views.append(TensorView(data: arena + layout.offsets[i], shape: shapes[i], dtype: node.type.dtype))
        }
        var steps: [Step] = []
        for (i, node) in graph.nodes.enumerated() {
            guard let kernel = node.op.kernel else { continue }   // inputs and parameters
            let context = KernelContext(inputs: node.inputs.map { views[$0.id] }, output: views[i],
                                        attributes: node.attributes, workspace: workspace, random: random)
            steps.append(Step(node: i, kernel: kernel, context: context, isDropoutMask: node.op == .dropoutMask, check: checks[i]))
        }
        self.views = views
        self.steps = steps
    }

    deinit { arena.deallocate() }

    func tensor(_ v: Value) -> HostTensor {
        let view = views[v.id]
        return HostTensor(copying: view.data, shape: view.shape, dtype: view.dtype)
    }
}

/// Seconds on a clock that never goes backwards.
@inline(__always)
func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
