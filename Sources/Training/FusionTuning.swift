import Foundation
import GraphIR
import Passes
import Runtime

/// Fusion that never loses: with tuning on, which of the speed-up passes' rewrites a model
/// gets is measured, not assumed. A fused kernel saves memory traffic but can run slower than
/// the ops it replaces (a convolution whose epilogue defeats OpenBLAS's fast path on one
/// CPU, an elementwise program slower than two vectorised loops on another), so for the
/// shapes and thread count a model runs with, the graph is compiled with every fusion, with
/// none (`--fusion off`), and without each kind of fusion the pass made (`FusionKind`), and
/// the variant whose step is fastest is kept (the fully fused one unless another is faster by
/// `Tuner.margin`, in the rounds and again timed against it alone: `Tuner.confirmedRatio`). The winner is remembered in the tuning cache under point `fusion-train` or
/// `fusion-eval`, the shapes of the feeds and a fingerprint of the model, and shows in
/// `--profile`'s kernel choices.
public enum FusionTuning {
    /// What a step runs: the forward graph for evaluation, the training graph for training.
    public enum Step: String, Sendable { case train, eval }

    /// `Tuner.shared`, read when called (a default argument would be read once).
    /// The pass options to compile `lowered` with for `step`s on `feeds` with `threads`
    /// threads: `options` itself when tuning is off, fusion is off, or no fusion fires;
    /// otherwise options with the losing fusions switched off (`disabledFusions`, or
    /// `fusion` false when the unfused graph won).
    ///
    /// `update`: what a timed training step ends with, the training's own optimiser and
    /// clipping (at a tiny rate), so that the step timed is the step run. Plain SGD without
    /// clipping is applied inside the backward where the step's order allows
    /// (`FusedWeightUpdate`), and a fusion can change that order: an Adam model's variants
    /// timed with SGD would be timed on steps it never runs. The choice is keyed by the
    /// optimiser too ("-sgd", "-adam-clip").
    public static func choose(_ lowered: Graph, options: PassOptions, step: Step, feeds: [String: HostTensor],
                              threads: Int, seed: UInt64, planner: @escaping BufferPlanner = BufferPlan.lifetimes, tuner: Tuner = .shared,
                              update: TimingUpdate = .tinySGD, reporter: TrainingReporter = SilentReporter()) throws -> PassOptions {
        guard tuner.mode != .off, options.fusion else { return options }
        // The ranks of a data-parallel job must run one graph: timings differ per rank, so
        // they would choose (and measure, each all-reduce a collective call) differently.
        guard !options.dataParallel else {
            reporter.log("note: fusion not tuned in a data-parallel job (every rank compiles the same graph)")
            return options
        }
        let all = PassContext(options: options)
        _ = try Pipelines.compileForTraining(lowered, all)
        let fired = FusionKind.allCases.filter { kind in
            all.statistics.contains { $0.pass == kind.pass && $0[kind.counter] > 0 }
        }
        var candidates: [(name: String, options: PassOptions)] = [("all", options)]
        var none = options
        none.fusion = false
        candidates.append(("none", none))
        if fired.count > 1 {
            for kind in fired {
                var o = options
                o.disabledFusions.insert(kind)
                candidates.append(("without-" + kind.rawValue, o))
            }
        }
        // A training step's choice is the optimiser's too (see `update`): "-sgd", "-adam-clip".
        let updated = step == .train
            ? "-" + String(describing: type(of: update.makeOptimizer())).lowercased() + (update.gradClip == nil ? "" : "-clip") : ""
        let key = TuningKey(point: "fusion-" + step.rawValue, shapes: feeds.keys.sorted().compactMap { feeds[$0]?.shape },
                            detail: fingerprint(lowered, options) + updated, threads: threads)
        // Each variant's graphs are compiled once; its step (with its memory) is made afresh
        // at each measurement.
        var compiled: [String: (forward: Graph, training: Graph)] = [:]
        let winner = try measureOneAtATime(key, variants: candidates.map(\.name), tuner: tuner) { name in
            guard let options = candidates.first(where: { $0.name == name })?.options else { return nil }
            let graphs = try compiled[name] ?? Pipelines.compileForTraining(lowered, PassContext(options: options))
            compiled[name] = graphs
            return try makeStep(forward: graphs.forward, training: graphs.training, step: step, feeds: feeds, threads: threads,
                                seed: seed, planner: planner, update: update)
        }
        guard let chosen = candidates.first(where: { $0.name == winner }) else { return options }
        if chosen.name != "all" { reporter.log("fusion (\(step.rawValue)): \(chosen.name), measured faster on this machine (--tune)") }
        return chosen.options
    }

    /// "all", "none" or "without-k1,k2": which fusions `options` leaves on.
    public static func describe(_ options: PassOptions) -> String {
        if !options.fusion { return "none" }
        if options.disabledFusions.isEmpty { return "all" }
        return "without-" + options.disabledFusions.map(\.rawValue).sorted().joined(separator: ",")
    }

    /// Seconds a measured batch of steps aims at: long enough to be above timer and dispatch
    /// noise, short enough that choosing costs well under a second for the usual models.
    static let targetSeconds = 0.02

    /// How a compiled step's memory is laid out, as `--tune` chose: by lifetimes (the
    /// default: less memory) or one buffer per value, whichever runs `graph`'s step faster by
    /// more than `Tuner.margin` (`memory-plan-train` / `memory-plan-eval`). Reusing buffers
    /// can cost speed (a value lands where a just-freed one was still being written back),
    /// and the unfused baseline the benchmarks compare with plans none.
    public static func choosePlanner(forward: Graph, training: Graph, step: Step, feeds: [String: HostTensor],
                                     threads: Int, seed: UInt64, tuner: Tuner = .shared) throws -> (name: String, planner: BufferPlanner) {
        let planners: [(name: String, planner: BufferPlanner)] = [("lifetimes", BufferPlan.lifetimes),
                                                                  ("one-per-value", { _, sizes in .onePerValue(byteSizes: sizes) })]
        guard tuner.mode != .off else { return planners[0] }
        let graph = step == .train ? training : forward
        let key = TuningKey(point: "memory-plan-" + step.rawValue, shapes: feeds.keys.sorted().compactMap { feeds[$0]?.shape },
                            detail: fingerprint(graph, PassOptions()), threads: threads)
        let winner = try measureOneAtATime(key, variants: planners.map(\.name), tuner: tuner) { name in
            guard let p = planners.first(where: { $0.name == name })?.planner else { return nil }
            return try makeStep(forward: forward, training: training, step: step, feeds: feeds, threads: threads, seed: seed, planner: p)
        }
        return planners.first { $0.name == winner } ?? planners[0]
    }

    /// `tuner.choose` over `variants`, each made by `make` (nil: not a variant) and timed as a
    /// batch of steps lasting about `targetSeconds`. One variant's step and memory exist at a
    /// time: each measurement makes its variant's step afresh (the tuner interleaves the
    /// variants' measurements) and runs it once untimed (its memory's first touch, the values
    /// derived from parameters) before the timed batch. The first error any variant throws
    /// ends the choice and is thrown.
    static func measureOneAtATime(_ key: TuningKey, variants: [String], tuner: Tuner,
                                  make: (String) throws -> (() throws -> Void)?) throws -> String {
        var batch: [String: Int] = [:]   // steps per timed batch, from each variant's first run
        var failure: Error?
        let winner = tuner.choose(key, variants: variants) { name in
            guard failure == nil else { return .infinity }
            do {
                guard let run = try make(name) else { return .infinity }
                try run()
                let repeats = try batch[name] ?? max(1, Int(targetSeconds / max(try seconds(run), 1e-6)))
                batch[name] = repeats
                return try seconds { for _ in 0..<repeats { try run() } } / Double(repeats)
            } catch {
                failure = error
                return .infinity
            }
        }
        if let failure { throw failure }
        return winner
    }

    /// `tuner`: the kernels' (nil: `Tuner.shared`).
    static func makeStep(forward: Graph, training: Graph, step: Step, feeds: [String: HostTensor],
                         threads: Int, seed: UInt64, planner: @escaping BufferPlanner, tuner: Tuner? = nil,
                         update: TimingUpdate = .tinySGD) throws -> () throws -> Void {
        switch step {
        case .train:
            let trainer = try timingTrainer(forward: forward, training: training, threads: threads, seed: seed, planner: planner,
                                            tuner: tuner, update: update)
            return { try timingStep(trainer, feeds: feeds) }
        case .eval:
            let store = ParameterStore()
            try store.initialise(from: forward, seed: seed)
            let executor = try Executor(graph: forward, options: ExecutionOptions(training: false, threads: threads, tuner: tuner),
                                        planner: planner)
            return { _ = try executor.execute(feeds: feeds, parameters: store) }
        }
    }

    /// A trainer of `training` for timing steps, its parameters initialised from `forward`
    /// (any graph with the same parameters: the lowered one will do), updating them as
    /// `update` says.
    static func timingTrainer(forward: Graph, training: Graph, threads: Int, seed: UInt64, planner: @escaping BufferPlanner,
                              tuner: Tuner?, update: TimingUpdate = .tinySGD) throws -> Trainer {
        let store = ParameterStore()
        try store.initialise(from: forward, seed: seed)
        return try Trainer(graph: training, parameters: store, optimizer: update.makeOptimizer(), gradClip: update.gradClip,
                           options: ExecutionOptions(training: true, seed: seed, threads: threads, tuner: tuner), planner: planner)
    }

    /// The update a timed training step ends with. Always a tiny rate: the parameters barely
    /// move, so every variant times the same numbers. Plain SGD where the variants differ
    /// only before the update (fusions, memory plans); the training's own optimiser and
    /// clipping where the variant changes which core last wrote a weight or its gradient,
    /// which the update then reads (`chooseInputGradientSplit`).
    public struct TimingUpdate {
        public var makeOptimizer: () -> Optimizer
        public var gradClip: Float?
        public init(gradClip: Float? = nil, makeOptimizer: @escaping () -> Optimizer) {
            self.makeOptimizer = makeOptimizer; self.gradClip = gradClip
        }
        public static let tinySGD = TimingUpdate { SGD(learningRate: 1e-6) }
    }

    /// One step of a timing trainer. A non-finite loss or update is the numerics check's to
    /// report, at its op and line, when training proper runs this batch; timing only needs the
    /// step's work.
    static func timingStep(_ trainer: Trainer, feeds: [String: HostTensor]) throws {
        do { _ = try trainer.step(feeds: feeds) } catch is NonFiniteLoss {} catch is NonFiniteUpdate {}
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    /// 16 hex digits naming the model and the options that shape its graph (FNV-1a of its IR
    /// text), so a cached choice is never applied to another model.
    static func fingerprint(_ g: Graph, _ options: PassOptions) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let text = IRPrinter.print(g, locations: false) + "\n\(options.dropout.map { "\($0)" } ?? "-")"
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 16)
    }
}
