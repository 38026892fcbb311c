import Foundation
import Frontend
import GraphIR
import Passes
import Runtime
#if canImport(Glibc)
import Glibc
#endif

/// `--bench`: training and evaluation throughput of a classifier on random data shaped like
/// its inputs, timed the way bench/pytorch_cnn.py times PyTorch (same warm-up, same repeat
/// count, medians); the command line prints the report as one JSON object on stdout.
public enum Bench {
    /// What to measure and how long.
    public struct Settings {
        /// Training batch sizes, one measurement each.
        public var batches: [Int]
        public var evalBatch: Int
        /// Runs per measurement (the median is reported).
        public var repeats: Int
        /// Approximate seconds per run.
        public var seconds: Double
        /// Plan memory by lifetimes (false: one buffer per value).
        public var memoryPlan: Bool
        /// How the model is compiled: the speed-up passes on or off, `verifyEach`, dropout.
        public var passes: PassOptions
        /// Log per-op profiles of an extra run of each measurement.
        public var profile: Bool
        /// Let plain SGD update weights inside the backward (`Trainer.fusesUpdates`).
        public var fusesOptimizerStep = true
        /// After each measurement, this many pairs of runs in this process of the model as
        /// measured (fusion and the memory plan on) and as `--fusion off --memory-plan off`
        /// compiles it, in turn, the order alternating (`Report.unfused_pairs`); 0: none. Why in
        /// one process: on a virtual machine a process can run 2-2.5x slower for its whole
        /// life and the host moves the vCPUs between core complexes for seconds to minutes
        /// (bench/RESULTS.md, sessions 14-19), so fused and unfused processes a few seconds
        /// apart can differ by more than fusion does; runs a fraction of a second apart in
        /// one process share those conditions. The peak RSS then holds both graphs.
        public var unfusedPairs = 0

        public init(batches: [Int] = [8, 64], evalBatch: Int = 1024, repeats: Int = 5, seconds: Double = 2,
                    memoryPlan: Bool = true, passes: PassOptions = PassOptions(), profile: Bool = false) {
            self.batches = batches
            self.evalBatch = evalBatch
            self.repeats = repeats
            self.seconds = seconds
            self.memoryPlan = memoryPlan
            self.passes = passes
            self.profile = profile
        }
    }

    public struct Summary: Codable {
        public var median: Double
        public var min: Double
        public var max: Double
        public var runs: [Double]

        init(_ xs: [Double]) {
            let s = xs.sorted()
            runs = xs
            min = s.first ?? 0
            max = s.last ?? 0
            median = s.isEmpty ? 0 : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
        }
    }

    /// Two variants of a measurement run in turn in one process (`Settings.unfusedPairs`):
    /// each one's images/s over its runs, and the ratios fused / unfused of the pairs' runs.
    public struct PairedRuns: Codable {
        public var fused: Summary
        public var unfused: Summary
        public var ratio: Summary
    }

    /// What the machine did while a run was timed, in cores (CPU seconds per wall second): this
    /// process's own (user + system; about the thread count when every thread ran throughout),
    /// the machine's idle and, on a virtual machine, stolen by the host (from /proc/stat; nil
    /// where it cannot be read). A run at one thread's speed with `process` near 1 had a
    /// thread that did not run; with `process` near the thread count, threads that ran slowly.
    /// `waiting`: the share of the time some thread, of any process, waited for a core (Linux's
    /// CPU pressure, `CPUPressure`; nil without it): above a few percent, other work competed.
    public struct RunConditions: Codable {
        public var process: Double
        public var idle: Double?
        public var stolen: Double?
        public var waiting: Double?
    }

    /// Measures how the machine runs a stretch of work: made at its start, read at its end.
    struct ConditionsMeter {
        let machine = MachineTimes.now(), cpu = processCPUSeconds(), pressure = CPUPressure.now(), start = monotonic()

        /// The seconds since the meter was made and how the machine ran over them.
        func read() -> (seconds: Double, conditions: RunConditions) {
            let wall = monotonic() - start, cpuAfter = processCPUSeconds(), machineAfter = MachineTimes.now()
            let pressureAfter = CPUPressure.now()
            var conditions = RunConditions(process: (cpuAfter - cpu) / wall)
            if let a = machine, let b = machineAfter {
                conditions.idle = (b.idle - a.idle) / wall
                conditions.stolen = (b.stolen - a.stolen) / wall
            }
            if let a = pressure, let b = pressureAfter { conditions.waiting = max(b.totalSeconds - a.totalSeconds, 0) / wall }
            return (wall, conditions)
        }
    }

    public struct Report: Codable {
        public var framework: String
        public var threads: [String: Int]
        public var eval_threads: Int
        public var blas_core: String
        /// The instruction set of graphc's own vector kernels (`--isa`).
        public var kernel_isa: String
        public var fusion: Bool
        public var memory_plan: Bool
        public var train: [String: Summary]
        public var train_ms_per_step: [String: Double]
        public var eval: [String: Summary]
        public var peak_rss_mb: Double
        public var planned_mb: [String: Double]
        /// What `--tune` chose for each measurement ("train_8": "all", "none", "without-elementwise").
        public var fusion_choice: [String: String] = [:]
        /// What `--tune` chose for the memory layout ("lifetimes" or "one-per-value").
        public var memory_plan_choice: [String: String] = [:]
        /// How the machine ran each timed run, in the order of `train[b].runs` / `eval[b].runs`.
        public var train_conditions: [String: [RunConditions]] = [:]
        public var eval_conditions: [String: [RunConditions]] = [:]
        /// Fused against unfused in this process ("train_8", "eval_1024"), with `Settings.unfusedPairs`.
        public var unfused_pairs: [String: PairedRuns] = [:]

        /// The report as one line of JSON with sorted keys.
        public var json: String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        }
    }

    /// Measures the model in `file` compiled as for training, with random inputs shaped like
    /// its own, logging each measurement to `reporter`.
    public static func run(file: String, overrides: RecipeOverrides = RecipeOverrides(), settings: Settings = Settings(),
                           reporter: TrainingReporter = SilentReporter()) throws -> Report {
        let lowered = try ModelLoading.load(file, options: FrontendOptions(mode: .train))
        let recipe = try Recipe(graph: lowered, overrides: overrides, passes: settings.passes)
        let planner: BufferPlanner = settings.memoryPlan ? BufferPlan.lifetimes : { _, sizes in .onePerValue(byteSizes: sizes) }
        let batches = settings.batches
        guard !batches.isEmpty, batches.allSatisfy({ $0 > 0 }) else { throw RuntimeError("bench: batch sizes must be positive, got \(batches)") }
        // Before the compilation, which times the scoring graph's convolutions at this batch.
        guard settings.evalBatch > 0 else { throw RuntimeError("bench: the evaluation batch size must be positive, got \(settings.evalBatch)") }
        let (forward, training) = try TrainingJob.compile(lowered, recipe, "training", evalBatch: settings.evalBatch, reporter: reporter)
        let pairs = settings.unfusedPairs
        guard pairs == 0 || (settings.passes.fusion && settings.memoryPlan) else {
            throw RuntimeError("bench: pairs against the unfused model need fusion and the memory plan on in the measured one")
        }
        var unfusedPasses = settings.passes
        unfusedPasses.fusion = false
        // What `--fusion off --memory-plan off` runs: the model compiled without fusion, one buffer per value.
        let unfused = pairs > 0 ? try TrainingJob.compile(lowered, try Recipe(graph: lowered, overrides: overrides, passes: unfusedPasses),
                                                          "training, unfused", evalBatch: settings.evalBatch, reporter: reporter) : nil
        let onePerValue: BufferPlanner = { _, sizes in .onePerValue(byteSizes: sizes) }
        let repeats = settings.repeats, seconds = settings.seconds
        // The recipe's count (`World.threadsPerProcess()`), not OpenBLAS's now: the compilation's
        // timing runs made executors, which set that to one thread.
        let cores = recipe.threads
        let evalThreads = recipe.evalThreads
        reporter.log("graphc bench: \(file), OpenBLAS core \(BLASInfo.coreName), kernels \(VectorISA.current), threads \(overrides.threads.map(String.init) ?? "default (all \(cores) cores)"), eval \(evalThreads)")

        var report = Report(framework: "graphc", threads: [:], eval_threads: evalThreads, blas_core: BLASInfo.coreName, kernel_isa: VectorISA.current.description,
                            fusion: settings.passes.fusion, memory_plan: settings.memoryPlan, train: [:], train_ms_per_step: [:], eval: [:], peak_rss_mb: 0, planned_mb: [:])
        let random = RandomSource(seed: 7)
        var profiles: [(String, Executor, StepPhaseTimes?)] = []
        for b in batches {
            let trainThreads = overrides.threads ?? cores
            report.threads[String(b)] = trainThreads
            BLASInfo.setThreads(trainThreads)
            let feeds = try randomFeeds(forward, batch: b, random: random)
            let chosen = try FusionTuning.choose(lowered, options: recipe.passes, step: .train, feeds: feeds, threads: trainThreads,
                                                 seed: recipe.seed, planner: planner, reporter: reporter)
            report.fusion_choice["train_\(b)"] = FusionTuning.describe(chosen)
            let trainingGraph = chosen.fusion == recipe.passes.fusion && chosen.disabledFusions.isEmpty
                ? training : try Pipelines.compileForTraining(lowered, PassContext(options: chosen)).training
            var trainPlanner = planner
            if settings.memoryPlan {
                let chosenPlan = try FusionTuning.choosePlanner(forward: forward, training: trainingGraph, step: .train, feeds: feeds,
                                                                threads: trainThreads, seed: recipe.seed)
                trainPlanner = chosenPlan.planner
                report.memory_plan_choice["train_\(b)"] = chosenPlan.name
            }
            try FusionTuning.chooseInputGradientSplit(forward: forward, training: trainingGraph, feeds: feeds, threads: trainThreads,
                                                      seed: recipe.seed, planner: trainPlanner)
            let store = ParameterStore()
            try ModelLoading.initialise(store, for: forward, file: file, seed: recipe.seed)
            let trainer = try Trainer(graph: trainingGraph, parameters: store, optimizer: SGD(learningRate: 0.01),
                                      options: ExecutionOptions(training: true, seed: recipe.seed, threads: trainThreads),
                                      planner: trainPlanner)
            trainer.fusesUpdates = settings.fusesOptimizerStep
            func rate(steps: Int, warmup: Int) throws -> (Double, RunConditions) {
                try imagesPerSecond(batch: b, steps: steps, warmup: warmup) { _ = try trainer.step(feeds: feeds) }
            }
            let steps = try stepsPerRun(batch: b, seconds: seconds, probeSteps: 20, warmup: 5, minimum: 20) { _ = try trainer.step(feeds: feeds) }
            var runs: [(Double, RunConditions)] = []
            for _ in 0..<repeats { runs.append(try rate(steps: steps, warmup: 5)) }
            let s = Summary(runs.map(\.0))
            report.train[String(b)] = s
            report.train_conditions[String(b)] = runs.map(\.1)
            report.train_ms_per_step[String(b)] = 1000 * Double(b) / s.median
            if let plan = trainer.memorySummary { report.planned_mb["train_\(b)"] = Double(plan.total) / 1_048_576 }
            reporter.log(String(format: "train batch %4d, %d thread%@: %8.0f images/s (median of %d; %.0f-%.0f), %.3f ms/step", b, trainThreads,
                                   trainThreads == 1 ? "" : "s", s.median, repeats, s.min, s.max, 1000 * Double(b) / s.median)
                         + describe(runs.map(\.1)))
            if let unfused {
                // The products' splits stay as the measured model's step chose them (`Tuner.use` is per process).
                let unfusedStore = ParameterStore()
                try ModelLoading.initialise(unfusedStore, for: unfused.forward, file: file, seed: recipe.seed)
                let unfusedTrainer = try Trainer(graph: unfused.training, parameters: unfusedStore, optimizer: SGD(learningRate: 0.01),
                                                 options: ExecutionOptions(training: true, seed: recipe.seed, threads: trainThreads),
                                                 planner: onePerValue)
                unfusedTrainer.fusesUpdates = settings.fusesOptimizerStep
                let paired = try pairedRuns(batch: b, pairs: pairs, seconds: seconds, probeSteps: 20, warmup: 5, minimum: 20,
                                            { _ = try trainer.step(feeds: feeds) }, { _ = try unfusedTrainer.step(feeds: feeds) })
                report.unfused_pairs["train_\(b)"] = paired
                reporter.log(describe(paired, "train batch \(b)"))
            }
            if settings.profile {
                trainer.executor.startProfiling(threads: trainThreads)
                trainer.resetPhaseTimes()
                _ = try rate(steps: steps, warmup: 0)
                trainer.executor.measuresTime = false
                profiles.append(("training, batch \(b), \(steps) steps" + (trainer.fusedUpdateSummary.map { "; " + $0 } ?? ""), trainer.executor,
                                 trainer.phaseTimes))
            }
        }

        let evalBatch = settings.evalBatch
        BLASInfo.setThreads(evalThreads)
        let store = ParameterStore()
        try ModelLoading.initialise(store, for: forward, file: file, seed: recipe.seed)
        let feeds = try randomFeeds(forward, batch: evalBatch, random: random)
        let chosenEval = try FusionTuning.choose(lowered, options: recipe.passes, step: .eval, feeds: feeds, threads: evalThreads,
                                                 seed: recipe.seed, planner: planner, reporter: reporter)
        report.fusion_choice["eval_\(evalBatch)"] = FusionTuning.describe(chosenEval)
        let evalGraph = chosenEval.fusion == recipe.passes.fusion && chosenEval.disabledFusions.isEmpty
            ? forward : try TunedCompilation.training(lowered, PassContext(options: chosenEval), evalThreads: evalThreads, evalBatch: evalBatch).forward
        var evalPlanner = planner
        if settings.memoryPlan {
            let chosenPlan = try FusionTuning.choosePlanner(forward: evalGraph, training: training, step: .eval, feeds: feeds,
                                                            threads: evalThreads, seed: recipe.seed)
            evalPlanner = chosenPlan.planner
            report.memory_plan_choice["eval_\(evalBatch)"] = chosenPlan.name
        }
        let executor = try Executor(graph: evalGraph, options: ExecutionOptions(training: false, threads: evalThreads),
                                    planner: evalPlanner)
        func evalRate(steps: Int, warmup: Int) throws -> (Double, RunConditions) {
            try imagesPerSecond(batch: evalBatch, steps: steps, warmup: warmup) { try executor.execute(feeds: feeds, parameters: store) }
        }
        let steps = try stepsPerRun(batch: evalBatch, seconds: seconds, probeSteps: 2, warmup: 1, minimum: 3) {
            try executor.execute(feeds: feeds, parameters: store)
        }
        var runs: [(Double, RunConditions)] = []
        for _ in 0..<repeats { runs.append(try evalRate(steps: steps, warmup: 1)) }
        let s = Summary(runs.map(\.0))
        report.eval[String(evalBatch)] = s
        report.eval_conditions[String(evalBatch)] = runs.map(\.1)
        if let plan = executor.memorySummary { report.planned_mb["eval_\(evalBatch)"] = Double(plan.total) / 1_048_576 }
        reporter.log(String(format: "eval batch %4d: %8.0f images/s (median of %d; %.0f-%.0f)", evalBatch, s.median, repeats, s.min, s.max)
                     + describe(runs.map(\.1)))
        if let unfused {
            let unfusedStore = ParameterStore()
            try ModelLoading.initialise(unfusedStore, for: unfused.forward, file: file, seed: recipe.seed)
            let unfusedExecutor = try Executor(graph: unfused.forward, options: ExecutionOptions(training: false, threads: evalThreads),
                                               planner: onePerValue)
            let paired = try pairedRuns(batch: evalBatch, pairs: pairs, seconds: seconds, probeSteps: 2, warmup: 1, minimum: 3,
                                        { try executor.execute(feeds: feeds, parameters: store) },
                                        { try unfusedExecutor.execute(feeds: feeds, parameters: unfusedStore) })
            report.unfused_pairs["eval_\(evalBatch)"] = paired
            reporter.log(describe(paired, "eval batch \(evalBatch)"))
        }
        if settings.profile {
            executor.startProfiling(threads: evalThreads)
            _ = try evalRate(steps: steps, warmup: 0)
            executor.measuresTime = false
            profiles.append(("evaluation, batch \(evalBatch), \(steps) runs", executor, nil))
        }
        report.peak_rss_mb = peakRSSMegabytes()
        for (title, ex, phases) in profiles { reporter.log(ProfileReport(executor: ex, title: title, phases: phases).text) }
        return report
    }

    /// Uniform [0, 1) floats for f32 inputs and class indices below the first output's last
    /// dimension for i64 inputs, with every symbolic dimension set to `batch`.
    static func randomFeeds(_ g: Graph, batch: Int, random: RandomSource) throws -> [String: HostTensor] {
        guard let out = g.outputs.first, let classes = g[out.value].type.shape.dims.last?.value, classes > 0 else {
            throw RuntimeError("--bench needs a classifier whose first output is [batch, classes]")
        }
        var feeds: [String: HostTensor] = [:]
        for v in g.inputs {
            let node = g[v]
            guard let name = node.name else { continue }
            let shape = node.fedType.shape.dims.map { $0.value ?? batch }
            let bytes = MemoryBudget.bytes(elements: shape, byteSize: node.type.dtype.byteSize)
            try MemoryBudget.check(bytes, for: "--bench batch \(batch): input '\(name)' \(shape)")
            let n = shape.reduce(1, *)
            switch node.type.dtype {
            case .f32: feeds[name] = HostTensor(shape: shape, floats: (0..<n).map { _ in random.nextFloat() })
            case .i64: feeds[name] = HostTensor(shape: shape, ints: (0..<n).map { _ in Int64(random.nextInt(below: classes)) })
            }
        }
        return feeds
    }

    /// Steps of `step` (one batch of `batch` images) for a run of about `seconds`, at least
    /// `minimum`, from the rate of `probeSteps` steps after `warmup` untimed ones.
    static func stepsPerRun(batch: Int, seconds: Double, probeSteps: Int, warmup: Int, minimum: Int,
                            _ step: () throws -> Void) rethrows -> Int {
        let probe = try imagesPerSecond(batch: batch, steps: probeSteps, warmup: warmup, step).0
        // A bound on the count: --bench-seconds is at most an hour, and a step's rate is finite.
        return max(minimum, Int(min(seconds * probe / Double(batch), 1e9)))
    }

    /// `pairs` pairs of runs of `fused` and `unfused` (each a step of `batch` images), the
    /// order alternating from pair to pair, each run about `seconds` after `warmup` untimed
    /// steps: each one's images/s and the ratio of each pair's two rates.
    static func pairedRuns(batch: Int, pairs: Int, seconds: Double, probeSteps: Int, warmup: Int, minimum: Int,
                           _ fused: () throws -> Void, _ unfused: () throws -> Void) throws -> PairedRuns {
        let fusedSteps = try stepsPerRun(batch: batch, seconds: seconds, probeSteps: probeSteps, warmup: warmup, minimum: minimum, fused)
        let unfusedSteps = try stepsPerRun(batch: batch, seconds: seconds, probeSteps: probeSteps, warmup: warmup, minimum: minimum, unfused)
        var fusedRates: [Double] = [], unfusedRates: [Double] = []
        for pair in 0..<pairs {
            func runFused() throws { fusedRates.append(try imagesPerSecond(batch: batch, steps: fusedSteps, warmup: warmup, fused).0) }
            func runUnfused() throws { unfusedRates.append(try imagesPerSecond(batch: batch, steps: unfusedSteps, warmup: warmup, unfused).0) }
            if pair % 2 == 0 { try runFused(); try runUnfused() } else { try runUnfused(); try runFused() }
        }
        return PairedRuns(fused: Summary(fusedRates), unfused: Summary(unfusedRates),
                          ratio: Summary(zip(fusedRates, unfusedRates).map { $0 / $1 }))
    }

    /// "train batch 8 against unfused, 12 pairs in this process: 13800 images/s against 11891, fused / unfused 1.17x (1.02-1.31)".
    static func describe(_ p: PairedRuns, _ what: String) -> String {
        String(format: "%@ against unfused, %d pairs in this process: %.0f images/s against %.0f, fused / unfused %.2fx (%.2f-%.2f)",
               what, p.ratio.runs.count, p.fused.median, p.unfused.median, p.ratio.median, p.ratio.min, p.ratio.max)
    }

    /// Images per second of `step` (one batch of `batch` images) over `steps` runs, after
    /// `warmup` runs that are not timed, and how the machine ran meanwhile.
    static func imagesPerSecond(batch: Int, steps: Int, warmup: Int, _ step: () throws -> Void) rethrows -> (Double, RunConditions) {
        for _ in 0..<warmup { try step() }
        let meter = ConditionsMeter()
        for _ in 0..<steps { try step() }
        let (wall, conditions) = meter.read()
        return (Double(batch * steps) / wall, conditions)
    }

    /// ", cores: this process 1.96 (1.90-1.99), idle 0.02, stolen 0.00, waiting 0.01": the runs'
    /// median and range of this process's cores, the median idle and stolen cores, and the
    /// median share of time some thread waited for a core.
    static func describe(_ runs: [RunConditions]) -> String {
        let own = Summary(runs.map(\.process))
        var text = String(format: ", cores: this process %.2f (%.2f-%.2f)", own.median, own.min, own.max)
        let idle = runs.compactMap(\.idle), stolen = runs.compactMap(\.stolen)
        if !idle.isEmpty { text += String(format: ", idle %.2f", Summary(idle).median) }
        if !stolen.isEmpty { text += String(format: ", stolen %.2f", Summary(stolen).median) }
        let waiting = runs.compactMap(\.waiting)
        if !waiting.isEmpty { text += String(format: ", waiting %.2f", Summary(waiting).median) }
        return text
    }

    /// This process's user and system CPU time so far, in seconds (all its threads).
    static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The machine's idle and stolen CPU seconds so far (all cores), from /proc/stat's first line.
    struct MachineTimes {
        var idle: Double, stolen: Double

        static func now() -> MachineTimes? {
            guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
            return parse(text, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))))
        }

        /// "cpu user nice system idle iowait irq softirq steal ..." in clock ticks.
        static func parse(_ stat: String, ticksPerSecond: Double) -> MachineTimes? {
            guard ticksPerSecond > 0, let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
            // The first eight counters, each a count (a field that is not one is no /proc/stat).
            let fields = line.split(separator: " ").dropFirst().prefix(8).map { Double($0) }
            guard fields.count == 8, fields.allSatisfy({ $0.map { $0.isFinite && $0 >= 0 } ?? false }) else { return nil }
            let f = fields.map { $0 ?? 0 }
            return MachineTimes(idle: (f[3] + f[4]) / ticksPerSecond, stolen: f[7] / ticksPerSecond)
        }
    }

    static func monotonic() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }

    /// The process's peak resident set (Linux reports ru_maxrss in kilobytes).
    static func peakRSSMegabytes() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_maxrss) / 1024
    }
}
