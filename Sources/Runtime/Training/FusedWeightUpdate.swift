import GraphIR

/// The optimiser step fused into a weight gradient ("optimizer step in backward"). With plain
/// SGD (no momentum, weight decay or clipping), a parameter whose gradient output is made by
/// one 2-D product `op(x)ᵀ·dy` (a Linear or matmul weight's), after every step that reads the
/// weight and after the loss, gets `W ← W - lr · xᵀ·dy` from one GEMM with alpha -lr and
/// beta 1. Unfused, the gradient is written, then read with the weight, and the weight written
/// again; fused, the weight is read and written once and the gradient not at all (its output
/// is not written in a fused step). Each weight differs from the unfused update by the last
/// bit at most (the GEMM adds `alpha·Σ` to W in one rounding where the update rounds `lr·g`
/// first).
///
/// The replacement kernel falls back to the node's own product (and the trainer then updates
/// the weight as usual) whenever a run does not fit: a non-finite loss (the weights must stay
/// as they were, see `NonFiniteLoss`), shapes that are not the 2-D transposed-A product, or a
/// GEMM split the tuner has not chosen yet (the plain product chooses it).
final class FusedWeightUpdate {
    /// A parameter whose update can run in its gradient's product.
    struct Site {
        let slot: Int
        let parameter: String
        /// The node making the gradient (a matmul).
        let node: Int
    }

    let sites: [Site]
    /// The learning rate of the step being run.
    var learningRate: Float = 0
    /// Per optimiser slot: whether the last run updated the weight in its gradient's product.
    var applied: [Bool]
    private(set) var installed = false

    /// The parameters of `trainable` whose update can be fused, judged from the executor's
    /// last run (its step order and which steps read which memory).
    init?(executor: Executor, trainable: [String]) {
        let graph = executor.graph
        guard let loss = graph.loss, let order = executor.lastStepNodes else { return nil }
        var position = [Int: Int]()
        for (i, node) in order.enumerated() { position[node] = i }
        guard let lossAt = position[loss.id] else { return nil }
        var sites: [Site] = []
        for (slot, name) in trainable.enumerated() {
            let outputName = GradientOutput.name(forParameter: name)
            guard let value = graph.outputs.first(where: { $0.name == outputName })?.value,
                  graph.outputs.filter({ $0.value.id == value.id }).count == 1, value.id != loss.id,
                  graph.nodes[value.id].op == .matmul, graph.nodes[value.id].inputs.count == 2,
                  let at = position[value.id], at > lossAt,
                  let weight = executor.parameterBuffer(named: name),
                  let gradient = executor.outputBuffer(named: outputName), gradient.count == weight.count,
                  let weightReaders = executor.stepsReading(weight), let gradientReaders = executor.stepsReading(gradient)
            else { continue }
            // Every reader of the old weight has run by then (the product itself must not read
            // it), and nothing reads the gradient after it.
            guard weightReaders.allSatisfy({ (position[$0] ?? .max) < at }),
                  gradientReaders.allSatisfy({ (position[$0] ?? .max) < at }) else { continue }
            sites.append(Site(slot: slot, parameter: name, node: value.id))
        }
        guard !sites.isEmpty else { return nil }
        self.sites = sites
        applied = [Bool](repeating: false, count: trainable.count)
    }

    /// Puts the fused kernels in place of the gradients' products (or the products back).
    func install(_ on: Bool, in executor: Executor) {
        guard on != installed else { return }
        installed = on
        for site in sites {
            guard on, let weight = executor.parameterBuffer(named: site.parameter)?.baseAddress else {
                executor.replaceKernel(ofNode: site.node, with: nil)
                continue
            }
            let slot = site.slot, count = executor.parameterBuffer(named: site.parameter)?.count ?? 0
            // The executor owns the closure (so it never outlives the executor); the closure
            // holds `self`, which holds no executor.
            executor.replaceKernel(ofNode: site.node) { [unowned executor] c in
                let lossIsFinite = executor.outputBuffer(named: "loss")?.first?.isFinite ?? false
                if lossIsFinite && FusedWeightUpdate.step(c, weight: weight, count: count, learningRate: self.learningRate) {
                    self.applied[slot] = true
                } else {
                    MatmulOp.kernel(c)
                }
            }
        }
    }

    /// `W -= lr · op(a)·op(b)` for the matmul of `c` when it is a 2-D product with a transposed
    /// first operand (as `matmulForward` runs it, through `sgemm(pool:)`'s split) shaped like
    /// W and not reading W's memory; false, having run nothing, otherwise.
    static func step(_ c: KernelContext, weight w: UnsafeMutablePointer<Float>, count: Int, learningRate lr: Float) -> Bool {
        guard c.inputs.count == 2 else { return false }
        let a = c.inputs[0], b = c.inputs[1]
        let ta = c.attributes[.transposeA] ?? false, tb = c.attributes[.transposeB] ?? false
        guard ta, a.shape.count == 2, b.shape.count == 2, a.dtype == .f32, b.dtype == .f32 else { return false }
        let m = a.shape[1], k = a.shape[0], n = tb ? b.shape[0] : b.shape[1]
        guard (tb ? b.shape[1] : b.shape[0]) == k, m * n == count, c.output.count == count else { return false }
        let lo = UnsafeRawPointer(w), hi = lo + count * 4
        for v in [a, b] where UnsafeRawPointer(v.data) < hi && lo < UnsafeRawPointer(v.data) + v.count * 4 { return false }
        return sgemmAccumulating(pool: c.pool, transA: true, transB: tb, m: m, n: n, k: k, alpha: -lr, a: a.f32, lda: m,
                                 b: b.f32, ldb: tb ? k : n, beta: 1, c: w, ldc: n)
    }
}
