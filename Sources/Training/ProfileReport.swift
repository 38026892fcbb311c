import Foundation
import GraphIR
import Runtime

/// `--profile`: where a step's time goes, per op kind and per node (the slowest ones), with
/// GFLOP/s for every op that computes (each op declares its FLOP count), from an executor that ran with
/// `measuresTime` on (like tract's `--profile --cost`).
struct ProfileReport {
    let executor: Executor
    let title: String
    /// A training loop's steps by phase (nil: the runs alone, as for evaluation).
    var phases: StepPhaseTimes? = nil

    struct Row {
        var label: String
        var nodes: Int
        var seconds: Double
        var flops: Double?
    }

    var text: String {
        let g = executor.graph
        let runs = max(executor.timedRuns, 1)
        let times = executor.nodeSeconds
        guard times.count == g.nodes.count, executor.timedRuns > 0, let shapes = executor.lastShapes else { return "profile (\(title)): no timed runs" }
        let totalFlops = executor.nodeFlops
        var byOp: [String: Row] = [:]
        var perNode: [Row] = []
        let derived = executor.parameterDerived
        for (i, node) in g.nodes.enumerated() where CPUKernels.kernel(for: node.op) != nil && derived?.isDerived[i] != true {
            let flops: Double? = i < totalFlops.count && totalFlops[i] > 0 ? totalFlops[i] / Double(runs) : nil
            var r = byOp[node.op.name] ?? Row(label: node.op.name, nodes: 0, seconds: 0, flops: nil)
            r.nodes += 1
            r.seconds += times[i]
            if let f = flops { r.flops = (r.flops ?? 0) + f }
            byOp[node.op.name] = r
            let where_ = node.scope.isEmpty ? "" : " [\(node.scope)]"
            perNode.append(Row(label: "%\(i) \(node.op.name) \(shapes[i])\(where_)", nodes: 1, seconds: times[i], flops: flops))
        }
        let total = byOp.values.reduce(0) { $0 + $1.seconds }
        var lines = ["profile: \(title); \(runs) runs, \(String(format: "%.3f", 1000 * total / Double(runs))) ms per run in kernels (shapes as in the last run)"]
        func line(_ r: Row) -> String {
            let ms = 1000 * r.seconds / Double(runs)
            let share = total > 0 ? 100 * r.seconds / total : 0
            let rate = r.flops.map { f in r.seconds > 0 ? String(format: "%8.1f GFLOP/s", f * Double(runs) / r.seconds / 1e9) : "" } ?? ""
            return String(format: "  %8.3f ms %5.1f%%  %3d× ", ms, share, r.nodes) + r.label.padding(toLength: 26, withPad: " ", startingAt: 0) + rate
        }
        lines.append("  per op kind (time per run, share, nodes):")
        for r in byOp.values.sorted(by: { $0.seconds > $1.seconds }) { lines.append(line(r)) }
        lines.append("  slowest nodes:")
        for r in perNode.sorted(by: { $0.seconds > $1.seconds }).prefix(12) {
            var l = line(r)
            if let f = r.flops { l += String(format: "  %.2f MFLOP", f / 1e6) }
            lines.append(l)
        }
        if let p = phases { lines += ProfileReport.phaseLines(p) }
        lines += ProfileReport.parameterDerivedLines(executor)
        lines += ProfileReport.choiceLines(executor.pool.tuner)
        return lines.joined(separator: "\n")
    }

    /// The values computed once from the parameters, which runs no longer compute: how many,
    /// of which ops, the bytes kept, and how often and how long they were computed.
    static func parameterDerivedLines(_ executor: Executor) -> [String] {
        guard let d = executor.parameterDerived, !d.nodes.isEmpty else { return [] }
        var ops: [String: Int] = [:]
        for i in d.nodes { ops[executor.graph.nodes[i].op.name, default: 0] += 1 }
        let list = ops.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.value)× \($0.key)" }.joined(separator: ", ")
        func size(_ bytes: Int) -> String {
            bytes < 1 << 20 ? String(format: "%.1f KB", Double(bytes) / 1024) : String(format: "%.2f MB", Double(bytes) / 1_048_576)
        }
        let times = executor.parameterDerivedComputations
        return ["  computed once from parameters, not in the runs above: \(d.nodes.count) nodes (\(list)); "
                + "\(size(executor.parameterDerivedBytes)) kept, \(size(executor.parameterDerivedScratchBytes)) scratch while computing; "
                + String(format: "computed %d time%@, %.3f ms in all", times, times == 1 ? "" : "s", 1000 * executor.parameterDerivedSeconds)]
    }

    /// A training step's time by phase, one line each: what the kernels above leave out.
    static func phaseLines(_ p: StepPhaseTimes) -> [String] {
        guard p.steps > 0 else { return [] }
        let ms = { (s: Double) in String(format: "%8.3f ms", 1000 * s / Double(p.steps)) }
        return ["  a training step by phase (time per step, \(p.steps) steps):",
                "  \(ms(p.data))  data: the batch's feeds made (features and tokens)",
                "  \(ms(p.kernels))  kernels (the per-op times above)",
                "  \(ms(p.executorOverhead))  executor overhead: the run outside its kernels (feed copies, dispatch)",
                "  \(ms(p.update))  update: gradient clipping and the optimiser",
                "  \(ms(p.data + p.run + p.update))  step in all"]
    }

    /// The tuner's decisions so far: each choice point's key, the variant run and how it was
    /// chosen, with the median time of each candidate when it was measured in this process,
    /// a winning challenger's confirmation against the default (`Tuner.confirmedRatio`) and,
    /// when the tuner checks the machine, how busy it was (`CPUPressure`).
    static func choiceLines(_ tuner: Tuner) -> [String] {
        let decisions = tuner.decisions
        guard !decisions.isEmpty else { return [] }
        var lines = ["  kernel choices (--tune \(tuner.mode.rawValue); \(tuner.machine)):"]
        for d in decisions.sorted(by: { $0.key < $1.key }) {
            var l = "    \(d.key) -> \(d.variant) (\(d.source.rawValue))"
            if !d.seconds.isEmpty {
                l += ": " + d.seconds.map { String(format: "%@ %.3f ms", $0.variant, 1000 * $0.seconds) }.joined(separator: ", ")
            }
            if let c = d.confirmation {
                l += String(format: "; timed again against the default, %@ took %.2fx its time", c.challenger, c.ratio)
            }
            if let p = d.pressure { l += String(format: "; threads waited for cores %.1f%% of the time", 100 * p) }
            lines.append(l)
        }
        return lines
    }
}

extension Executor {
    /// Starts `--profile` timing from zero. On one BLAS thread the calling thread's CPU time is
    /// what a kernel costs, so other processes' load is not counted.
    func startProfiling(threads: Int) {
        measuresTime = true
        measuresThreadTime = threads == 1
        resetTimes()
    }
}
