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
///
/// When the step just before the gradient's product is the weight's input gradient
/// `dx = dy·W` (a Linear layer's backward), that product is deferred to the gradient's step
/// and both run together over blocks of W: each block is read for `dx` and updated while it
/// is in cache, so the weight is read from memory once in the backward, not twice. That pays
/// only while the products are bound by memory, a batch of at most `pairedRowsLimit` rows
/// (with more, the small block GEMMs lose more than the saved pass over W); it is a fixed
/// rule because the tuner cannot time a kernel that updates W on its own.
///
/// Which core takes which blocks follows the choice made for `dy·W` itself (`thin-matmul`,
/// confirmed on whole steps by `input-gradient-split-train`):
/// - `k-split-N`: W's rows in N slices, slice p on the core p (each core updates the rows
///   it reads in the forward x·Wᵀ, which splits W by rows too), its column blocks in turn;
///   `dx` from N partials summed after (`addPartials`). When the host placed the two vCPUs on
///   different core complexes, the CNN's head.1 update at batch 8 took 0.18-0.25 ms a step
///   this way against 0.38-0.47 walking columns (Zen 4, session 20); near, the same 0.15.
///   The bits of `dx` depend on N, never on which thread ran a slice.
/// - anything else: column blocks of the whole of W over the pool, each one serial GEMM of
///   `dx` and one of the update, so the bits do not depend on the thread count.
final class FusedWeightUpdate {
    /// A parameter whose update can run in its gradient's product.
    struct Site {
        let slot: Int
        let parameter: String
        /// The node making the gradient (a matmul).
        let node: Int
        /// The input gradient `dy·W` run just before it (a matmul), done with it.
        let inputGradientNode: Int?
    }

    let sites: [Site]
    /// The learning rate of the step being run.
    var learningRate: Float = 0
    /// Per optimiser slot: whether the last run updated the weight in its gradient's product.
    var applied: [Bool]
    /// Per optimiser slot: whether the last run did so together with the input gradient.
    var appliedWithInputGradient: [Bool]
    /// Per site: the deferred input gradient's context, from its step to the gradient's.
    private var deferred: [KernelContext?]
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
            // The step before it: dy·W, with W itself as the second operand.
            let before = order[at - 1], node = graph.nodes[before]
            let paired = weightReaders.contains(before) && node.op == .matmul && node.inputs.count == 2
                && graph.nodes[node.inputs[1].id].op == .param && graph.nodes[node.inputs[1].id].name == name
                && !(node.attributes[.transposeA] ?? false) && !(node.attributes[.transposeB] ?? false)
            sites.append(Site(slot: slot, parameter: name, node: value.id, inputGradientNode: paired ? before : nil))
        }
        guard !sites.isEmpty else { return nil }
        self.sites = sites
        applied = [Bool](repeating: false, count: trainable.count)
        appliedWithInputGradient = applied
        deferred = [KernelContext?](repeating: nil, count: sites.count)
    }

    /// Puts the fused kernels in place of the gradients' products (or the products back).
    func install(_ on: Bool, in executor: Executor) {
        guard on != installed else { return }
        installed = on
        for i in deferred.indices { deferred[i] = nil }
        for (index, site) in sites.enumerated() {
            guard on, let weight = executor.parameterBuffer(named: site.parameter)?.baseAddress else {
                executor.replaceKernel(ofNode: site.node, with: nil)
                if let dx = site.inputGradientNode { executor.replaceKernel(ofNode: dx, with: nil) }
                continue
            }
            let slot = site.slot, count = executor.parameterBuffer(named: site.parameter)?.count ?? 0
            // The executor owns the closures (so they never outlive the executor); they hold
            // `self`, which holds no executor.
            if let dx = site.inputGradientNode {
                // Deferred only when it can run with the update (a batch of at most
                // `pairedRowsLimit` rows); otherwise it runs in its own step as usual, so
                // that `--profile` times it as its own node, not as part of the update's.
                executor.replaceKernel(ofNode: dx) { c in
                    if let rows = c.inputs.first?.shape.first, rows <= FusedWeightUpdate.pairedRowsLimit {
                        self.deferred[index] = c
                    } else {
                        MatmulOp.kernel(c)
                    }
                }
            }
            executor.replaceKernel(ofNode: site.node) { [unowned executor] c in
                let lossIsFinite = executor.outputBuffer(named: "loss")?.first?.isFinite ?? false
                let dx = self.deferred[index]
                self.deferred[index] = nil
                if lossIsFinite, let dx,
                   FusedWeightUpdate.step(c, inputGradient: dx, weight: weight, count: count, learningRate: self.learningRate,
                                          parts: FusedWeightUpdate.inputGradientParts(dx)) {
                    self.applied[slot] = true
                    self.appliedWithInputGradient[slot] = true
                    return
                }
                if let dx { MatmulOp.kernel(dx) }   // as it would have run, just before
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

    /// The slices of W's rows the input gradient `dxc` (dy·W) runs in with the update: its own
    /// product's `k-split-N` choice, else 1 (column blocks).
    static func inputGradientParts(_ dxc: KernelContext) -> Int {
        guard dxc.inputs.count == 2, dxc.inputs[0].shape.count == 2, dxc.output.shape.count == 2 else { return 1 }
        return thinMatmulSplitParts(pool: dxc.pool, m: dxc.inputs[0].shape[0], n: dxc.output.shape[1], k: dxc.inputs[0].shape[1])
    }

    /// `dx = dy·W` (the context `dxc`) and `W -= lr · dyᵀ·op(x)` (the gradient's matmul `c`, as
    /// `step(_:weight:count:learningRate:)` takes it) over blocks of W split over the pool:
    /// each block's share of `dx` from the old block, then the block updated. `parts` > 1:
    /// W's rows in that many slices, one per core (see the type); 1: column blocks of all of
    /// W. False, having run nothing, when the shapes or memory do not fit.
    static func step(_ c: KernelContext, inputGradient dxc: KernelContext, weight w: UnsafeMutablePointer<Float>, count: Int,
                     learningRate lr: Float, parts: Int = 1) -> Bool {
        guard c.inputs.count == 2, dxc.inputs.count == 2 else { return false }
        let a = c.inputs[0], b = c.inputs[1], dy = dxc.inputs[0], dx = dxc.output
        let ta = c.attributes[.transposeA] ?? false, tb = c.attributes[.transposeB] ?? false
        guard ta, !(dxc.attributes[.transposeA] ?? false), !(dxc.attributes[.transposeB] ?? false),
              a.shape.count == 2, b.shape.count == 2, dy.shape.count == 2, dx.shape.count == 2,
              [a, b, dy, dx].allSatisfy({ $0.dtype == .f32 }), dxc.inputs[1].data == UnsafeMutableRawPointer(w) else { return false }
        let m = a.shape[1], k = a.shape[0], n = tb ? b.shape[0] : b.shape[1], rows = dy.shape[0]
        guard (tb ? b.shape[1] : b.shape[0]) == k, m * n == count, c.output.count == count, dxc.inputs[1].count == count,
              dy.shape[1] == m, dx.shape == [rows, n], k <= pairedRowsLimit else { return false }
        // dx is written while a, b, dy and W are read: no overlap allowed, nor of W with a, b, dy.
        func overlap(_ p: UnsafeMutableRawPointer, _ pc: Int, _ q: UnsafeMutableRawPointer, _ qc: Int) -> Bool {
            pc > 0 && qc > 0 && p < q + qc * 4 && q < p + pc * 4
        }
        let wRaw = UnsafeMutableRawPointer(w)
        for v in [a, b, dy] where overlap(v.data, v.count, wRaw, count) || overlap(v.data, v.count, dx.data, dx.count) { return false }
        guard !overlap(dx.data, dx.count, wRaw, count) else { return false }
        let pa = a.f32, pb = b.f32, pdy = dy.f32, pdx = dx.f32
        // One block: dx's columns j..<j+cols from W's rows `slice` (into `out`), then those rows updated.
        func block(_ slice: Range<Int>, _ j: Int, _ cols: Int, into out: UnsafeMutablePointer<Float>) {
            sgemm(m: rows, n: cols, k: slice.count, a: pdy + slice.lowerBound, lda: m, b: w + slice.lowerBound * n + j, ldb: n,
                  c: out + j, ldc: n)
            sgemm(transA: true, transB: tb, m: slice.count, n: cols, k: k, alpha: -lr, a: pa + slice.lowerBound, lda: m,
                  b: tb ? pb + j * k : pb + j, ldb: tb ? k : n, beta: 1, c: w + slice.lowerBound * n + j, ldc: n)
        }
        if parts > 1 && m >= parts {
            let partials = c.workspace.floats((parts - 1) * rows * n)
            c.pool.parallelFor(parts, perThread: 1) { _, slices in
                for part in slices {
                    let slice = WorkerPool.range(part, of: parts, count: m), out = part == 0 ? pdx : partials + (part - 1) * rows * n
                    let width = inputGradientBlock(rows: slice.count, columns: n)
                    for j in stride(from: 0, to: n, by: width) { block(slice, j, min(width, n - j), into: out) }
                }
            }
            addPartials(pool: c.pool, y: pdx, partials: partials, parts: parts, m: rows, n: n)
            return true
        }
        let width = inputGradientBlock(rows: m, columns: n)
        let blocks = (n + width - 1) / width
        let work = (rows + k) * m * width
        c.pool.parallelFor(blocks, grain: max(1, parallelGemmWork / max(work, 1)), perThread: 1) { _, range in
            for index in range {
                let j = index * width
                block(0..<m, j, min(width, n - j), into: pdx)
            }
        }
        return true
    }

    /// The most batch rows for which the input gradient runs with the update (see the type).
    static let pairedRowsLimit = 16

    /// Columns of W per block: a power of two (16 to 256) whose block of `rows` rows stays
    /// within a quarter of a typical L2 cache, so it is still there for its update.
    static func inputGradientBlock(rows: Int, columns: Int) -> Int {
        var width = 16
        while width < 256 && rows * width * 2 * 4 <= 256 * 1024 { width *= 2 }
        return width
    }
}
