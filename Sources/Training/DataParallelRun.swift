import Datasets
import Distributed
import Foundation
import GraphIR
import Runtime

/// A training loop's view of the data-parallel job it runs in (`mpirun -np N graphc ...
/// --train`); in a world of one every method is the single-process behaviour.
///
/// The recipe's batch stays the global batch: each rank takes its consecutive share of every
/// batch of one global shuffle (`Placement.share`), its gradients are scaled by that share
/// before the all-reduce sums them, so the summed gradient is that of the global batch's mean
/// loss whatever N is. Dropout masks are drawn per rank (their seed is offset by the rank), as
/// they would be per example. Dev and test sets are split over the ranks and the counts summed.
/// Only rank 0 writes results and checkpoints.
struct DataParallelRun {
    let world: World
    let communicator: MPIGradientCommunicator?

    init(world: World = .shared) {
        self.world = world
        communicator = world.gradientCommunicator()
    }

    var isDistributed: Bool { world.isDistributed }
    /// Whether this rank writes results, checkpoints and the log.
    var writes: Bool { world.rank == 0 }

    /// The examples of a global batch this rank computes, and its share of the batch. A rank
    /// left without examples (the short last batch of an epoch) computes one with share 0, so
    /// every rank still takes part in each all-reduce.
    func localBatch(_ global: ArraySlice<Int>) -> (indices: [Int], share: Float) {
        let all = Array(global)
        guard isDistributed else { return (all, 1) }
        let mine = Array(all[Placement.share(of: all.count, rank: world.rank, size: world.size)])
        if mine.isEmpty, let first = all.first { return ([first], 0) }
        return (mine, Float(mine.count) / Float(max(all.count, 1)))
    }

    /// Sets the share the all-reduce kernels scale this rank's gradients by.
    func setShare(_ share: Float) { communicator?.share = share }

    /// The global batch's mean loss from each rank's mean over its share.
    func globalLoss(_ local: Float, share: Float) -> Double {
        guard isDistributed else { return Double(local) }
        return world.sum([Double(local) * Double(share)])[0]
    }

    /// The dropout seed of this rank (rank 0 keeps the recipe's, so one rank is the
    /// single-process run).
    func dropoutSeed(_ seed: UInt64) -> UInt64 { seed &+ UInt64(world.rank) &* 0x9e37_79b9_7f4a_7c15 }

    /// Accuracy and mean loss over a split, each rank scoring its share of it.
    func evaluate(_ evaluator: Evaluator, _ split: ImageClassificationSplit, _ store: ParameterStore) throws -> (accuracy: Double, loss: Double) {
        guard isDistributed else { return try evaluator.evaluate(split, store) }
        let range = Placement.share(of: split.count, rank: world.rank, size: world.size)
        let t = try evaluator.totals(split, store, range: range)
        let sums = world.sum([Double(t.correct), t.lossSum])
        let n = Double(max(split.count, 1))
        return (sums[0] / n, sums[1] / n)
    }

    /// Refuses, on every rank, a job whose ranks were started with different model files,
    /// flags or data, or a batch the ranks cannot split evenly.
    func checkStart(file: String, batchSize: Int, data: [(what: String, description: String, hash: UInt64)]) throws {
        guard isDistributed else { return }
        let model = (try? Data(contentsOf: URL(fileURLWithPath: file))).map { Hash.words([UInt8]($0)) } ?? 0
        var items = [StartupCheck.Item(what: "the model file", description: file, hash: model),
                     StartupCheck.Item(what: "the command line", CommandLine.arguments.dropFirst().joined(separator: " "))]
        items += data.map { StartupCheck.Item(what: $0.what, description: $0.description, hash: $0.hash) }
        try StartupCheck.agree(items, in: world)
        try checkBatch(batchSize)
    }

    /// Refuses a global batch the ranks cannot split evenly (checked before data is loaded).
    func checkBatch(_ batchSize: Int) throws { try Placement.checkBatch(batchSize, size: world.size) }

    /// Refuses to train when the ranks' initial weights differ (a hash of every parameter).
    func checkInitialWeights(_ store: ParameterStore) throws {
        guard isDistributed else { return }
        var h: UInt64 = 0x243f_6a88_85a3_08d3
        for name in store.names.sorted() {
            guard let t = store.get(name) else { continue }
            h = Hash.fnv1a(Array(name.utf8), seed: h)
            switch t.storage {
            case .f32(let v): h = Hash.words(v, seed: h)
            case .i64(let v): h = Hash.words(v, seed: h)
            }
        }
        try StartupCheck.agree([StartupCheck.Item(what: "the initial weights", description: "hash \(String(h, radix: 16))", hash: h)], in: world)
    }

    /// A line for `--profile`: the gradient exchange's time and how much compute hid.
    func profileLine(steps: Int) -> String? {
        guard let s = communicator?.statistics, s.buckets > 0, steps > 0 else { return nil }
        let per = Double(steps)
        return String(format: "gradient all-reduce (%@): %d buckets/step, %.2f MB/step, %.2f ms/step communicating, %.2f ms/step waited for; %.0f%% overlapped compute",
                      world.label, s.buckets / steps, Double(s.bytes) / per / 1e6, s.communicationSeconds / per * 1e3,
                      s.waitSeconds / per * 1e3, s.hiddenFraction * 100)
    }
}
