import Foundation
import GraphIR
import Passes
import Runtime

extension FusionTuning {
    /// Whether a training step's products with a weight split over the weight's rows, as the
    /// weight update splits it (`k-split`), or run as their own measurements chose
    /// (`as-timed`), timed as whole steps: the choice point `input-gradient-split-train`. The
    /// products (`Executor.weightRowSplitCandidates`): the thin products a·b (the dense
    /// layers' input gradients dy·W among them) over k (`k-split-N`, see `thinMatmulSplitK`),
    /// and the larger ones with a parameter W, a·W over k and x·Wᵀ by W's rows (`gemm-split`'s
    /// `k-split` and `columns`).
    ///
    /// Why a whole step: each product's own choice times it alone, where the k-split is a few
    /// percent slower than a column split (it sums its partials in a second pass). In the step
    /// the weight update splits W by rows over the cores, and a product that has each core
    /// read all of W leaves W's lines in both cores' caches, which the update then has to
    /// take back before it writes them. When the host placed the two vCPUs on different core
    /// complexes, the CNN's head.1 update at batch 64 took 0.63-0.70 ms a step after the
    /// column split and 0.46 ms after the k-split (Zen 4, session 15). So the step is timed
    /// both ways: with every such product split by W's rows ("k-split", the default, kept
    /// unless the other is faster by `Tuner.margin`) and as each product's own choice
    /// ("as-timed"). The winner is cached under this point (keyed by the graph); the products'
    /// own cached choices stay as they were measured alone, and this process runs them as the
    /// winner says (`Tuner.use`).
    ///
    /// The steps end with `update`, the training's own optimiser for choosing a real run's
    /// split: the split decides which core last wrote or read each weight's rows, and the
    /// update writes them. In the vanilla caption decoder's steps (Adam, clipping) at far
    /// placements, the k-split of dh·W_hh took the update from 1.47-1.55 ms a step to
    /// 0.78-0.85 (Zen 4, session 16; near, 0.29 against 0.34). Splitting the products of
    /// W_ih and W_fc over all steps by their rows too gave 0.70 ms against 0.84-0.91 in the
    /// few far processes measured, and 0.31 against 0.34 near (session 17). At batches of up to
    /// 16 rows a dense layer's dy·W runs with its SGD update (`FusedWeightUpdate`), split as
    /// dy·W's choice says, so this choice decides that kernel's split too: the CNN's head.1 at
    /// batch 8 took 0.12-0.16 ms a step split by W's rows against 0.14-0.19 walking its columns
    /// near, 0.18-0.25 against 0.38-0.48 far (session 20).
    ///
    /// Runs one step first so that every product's own choice is made. Returns the choice, or
    /// nil when nothing was chosen: tuning off, one thread, or no product whose own choice is
    /// another than its split by W's rows.
    @discardableResult
    public static func chooseInputGradientSplit(forward: Graph, training: Graph, feeds: [String: HostTensor], threads: Int,
                                                seed: UInt64, planner: @escaping BufferPlanner = BufferPlan.lifetimes,
                                                tuner: Tuner = .shared, update: TimingUpdate = .tinySGD) throws -> String? {
        guard tuner.mode != .off, threads > 1 else { return nil }
        let trainer = try timingTrainer(forward: forward, training: training, threads: threads, seed: seed, planner: planner,
                                        tuner: tuner, update: update)
        try timingStep(trainer, feeds: feeds)
        let products = trainer.executor.weightRowSplitCandidates.compactMap { product -> (WeightRowSplitCandidate, alone: String)? in
            guard let alone = tuner.recall(product.key, variants: product.variants), alone != product.byWeightRows else { return nil }
            return (product, alone)
        }
        guard !products.isEmpty else { return nil }
        func runAll(split: Bool) {
            for (product, alone) in products { tuner.use(product.key, variant: split ? product.byWeightRows : alone) }
        }
        let key = TuningKey(point: "input-gradient-split-train", shapes: feeds.keys.sorted().compactMap { feeds[$0]?.shape },
                            detail: "by-weight-rows-" + fingerprint(training, PassOptions()), threads: threads)
        let winner: String
        do {
            winner = try measureOneAtATime(key, variants: ["k-split", "as-timed"], tuner: tuner) { name in
                runAll(split: name == "k-split")
                return try makeStep(forward: forward, training: training, step: .train, feeds: feeds, threads: threads, seed: seed,
                                    planner: planner, tuner: tuner, update: update)
            }
        } catch {
            runAll(split: false)
            throw error
        }
        runAll(split: winner == "k-split")
        return winner
    }
}
