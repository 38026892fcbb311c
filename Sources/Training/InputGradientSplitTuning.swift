import Foundation
import GraphIR
import Passes
import Runtime

extension FusionTuning {
    /// Whether a training step's thin input gradients dy·W split over W's rows (`k-split-N`,
    /// see `thinMatmulSplitK`) or run as their own measurements chose, timed as whole steps:
    /// the choice point `input-gradient-split-train`.
    ///
    /// Why a whole step: `thin-matmul` times each product alone, where the k-split is a few
    /// percent slower than a column split (it sums its partials in a second pass). In the step
    /// the forward product and the weight update split W by rows over the cores, and a column
    /// split of dy·W has each core read the other's rows, which the update then waits for.
    /// When the host placed the two vCPUs on different core complexes, the CNN's head.1
    /// update at batch 64 took 0.64-0.73 ms a step after the column split and 0.46 ms after
    /// the k-split (Zen 4, session 15). So the step is timed both ways: with every such product
    /// split over k ("k-split", the default, kept unless the other is faster by
    /// `Tuner.margin`) and as each product's own choice ("as-timed"). With "k-split" each
    /// product's choice is remembered as part of this one; otherwise they stay as they were.
    ///
    /// Runs one step first so that every product's own choice is made. Returns the choice, or
    /// nil when nothing was chosen: tuning off, one thread, or no product whose own choice is
    /// another than its k-split.
    @discardableResult
    public static func chooseInputGradientSplit(forward: Graph, training: Graph, feeds: [String: HostTensor], threads: Int,
                                                seed: UInt64, planner: @escaping BufferPlanner = BufferPlan.lifetimes,
                                                tuner: Tuner = .shared) throws -> String? {
        guard tuner.mode != .off, threads > 1 else { return nil }
        let store = ParameterStore()
        try store.initialise(from: forward, seed: seed)
        let trainer = try Trainer(graph: training, parameters: store, optimizer: SGD(learningRate: 1e-6),
                                  options: ExecutionOptions(training: true, seed: seed, threads: threads, tuner: tuner), planner: planner)
        do { _ = try trainer.step(feeds: feeds) } catch is NonFiniteLoss {} catch is NonFiniteUpdate {}
        let products = trainer.executor.splitKCandidates.compactMap { product -> (SplitKCandidate, alone: String)? in
            guard let alone = tuner.recall(product.key, variants: product.variants), alone != product.splitK else { return nil }
            return (product, alone)
        }
        guard !products.isEmpty else { return nil }
        let key = TuningKey(point: "input-gradient-split-train", shapes: feeds.keys.sorted().compactMap { feeds[$0]?.shape },
                            detail: fingerprint(training, PassOptions()), threads: threads)
        let winner = try measureOneAtATime(key, variants: ["k-split", "as-timed"], tuner: tuner) { name in
            for (product, alone) in products { tuner.use(product.key, variant: name == "k-split" ? product.splitK : alone) }
            return try makeStep(forward: forward, training: training, step: .train, feeds: feeds, threads: threads, seed: seed,
                                planner: planner, tuner: tuner)
        }
        for (product, alone) in products {
            if winner == "k-split" { tuner.remember(product.key, variant: product.splitK, partOf: key) }
            else { tuner.use(product.key, variant: alone) }
        }
        return winner
    }
}
