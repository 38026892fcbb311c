import CConvKernels
import GraphIR

/// Update rules, written to match PyTorch's `torch.optim` step for step, over flat float
/// buffers so they run on whatever memory the executor keeps parameters and gradients in.
public protocol Optimizer: AnyObject {
    /// Learning rate; schedules may change it between steps.
    var learningRate: Float { get set }
    /// Called once per parameter tensor per step, always in the same order with the same
    /// `slot` for the same tensor (optimiser state lives per slot).
    func update(slot: Int, parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>)
    /// `update` with the elements split over `pool` where the rule allows it (the default
    /// runs `update` on the calling thread). Each element's arithmetic is the same either way.
    func update(slot: Int, parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>, pool: WorkerPool)
    /// `update` of the gradient with every value clamped to ±`clip` first (nil: as given),
    /// split over `pool`. The default clamps `gradient` in place, then updates; Adam and SGD
    /// clamp each value as they read it, in the same pass as the update, and leave `gradient`
    /// as it was. Either way each weight gets the same arithmetic as clamp-then-`update`.
    func update(slot: Int, parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeMutableBufferPointer<Float>, clip: Float?, pool: WorkerPool)
    /// Every parameter tensor of a step, each as `update(slot:parameter:gradient:clip:pool:)`
    /// updates it; Adam splits all of them over the pool at once (one dispatch per step).
    func update(_ tensors: [ParameterUpdate], clip: Float?, pool: WorkerPool)
    /// Called after every parameter of a step has been updated.
    func finishStep()
    /// Bytes of state kept (momentum buffers, Adam moments), for the memory summary.
    var stateBytes: Int { get }
    /// Bytes of state the optimiser will keep for `parameterCount` f32 weights.
    func plannedStateBytes(parameterCount: Int) -> Int
}

extension Optimizer {
    public func update(slot: Int, parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>, pool: WorkerPool) {
        update(slot: slot, parameter: parameter, gradient: gradient)
    }

    public func update(slot: Int, parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeMutableBufferPointer<Float>, clip: Float?, pool: WorkerPool) {
        if let c = clip { clipGradientValues(gradient, clip: c) }
        update(slot: slot, parameter: parameter, gradient: UnsafeBufferPointer(gradient), pool: pool)
    }

    public func update(_ tensors: [ParameterUpdate], clip: Float?, pool: WorkerPool) {
        for t in tensors { update(slot: t.slot, parameter: t.parameter, gradient: t.gradient, clip: clip, pool: pool) }
    }
}

/// One parameter tensor of a step's update: its optimiser slot, the weights (updated in
/// place) and its gradient.
public struct ParameterUpdate {
    public var slot: Int
    public var parameter: UnsafeMutableBufferPointer<Float>
    public var gradient: UnsafeMutableBufferPointer<Float>
    public init(slot: Int, parameter: UnsafeMutableBufferPointer<Float>, gradient: UnsafeMutableBufferPointer<Float>) {
        self.slot = slot; self.parameter = parameter; self.gradient = gradient
    }
}

/// Elements per chunk of a split update: an element of an update costs a few nanoseconds
/// (Adam's square root and divisions most), so a chunk this long outweighs waking a thread.
let optimizerGrain = WorkerPool.parallelMinimumWork / 4

/// `min(max(g, -clip), clip)` as `clipGradientValues` computes it (NaN stays NaN), or `g`.
@inline(__always)
func clamped(_ g: Float, _ clip: Float?) -> Float {
    guard let c = clip else { return g }
    return min(max(g, -c), c)
}

/// `torch.optim.SGD(lr, momentum, weight_decay)`: g += wd * p; buf = momentum * buf + g
/// (buf = g on the first step); p -= lr * buf.
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float
    public let weightDecay: Float
    private var buffers: [Int: UnsafeMutableBufferPointer<Float>] = [:]

    public init(learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.learningRate = learningRate; self.momentum = momentum; self.weightDecay = weightDecay
    }

    public func update(slot: Int, parameter p: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>) {
        let n = min(p.count, g.count), lr = learningRate, wd = weightDecay
        if momentum == 0 {
            for i in 0..<n { p[i] -= lr * (g[i] + wd * p[i]) }
            return
        }
        let mu = momentum
        guard let b = buffers[slot], b.count == n else {
            // First step: the buffer starts as the gradient itself (no dampening), as PyTorch.
            let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
            for i in 0..<n { b[i] = g[i] + wd * p[i]; p[i] -= lr * b[i] }
            buffers[slot] = b
            return
        }
        for i in 0..<n {
            b[i] = mu * b[i] + (g[i] + wd * p[i])
            p[i] -= lr * b[i]
        }
    }

    /// Plain SGD, and momentum SGD once its buffer exists, split over the pool: the CNN's
    /// update streams 3 MB of weights and 3 MB of gradients per step.
    public func update(slot: Int, parameter p: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>, pool: WorkerPool) {
        let n = min(p.count, g.count), lr = learningRate, wd = weightDecay, mu = momentum
        guard let pp = p.baseAddress, let gp = g.baseAddress else { return }
        if momentum == 0 {
            pool.parallelFor(n, grain: WorkerPool.memoryBoundMinimumWork) { _, range in
                for i in range { pp[i] -= lr * (gp[i] + wd * pp[i]) }
            }
            return
        }
        guard let b = buffers[slot], b.count == n, let bp = b.baseAddress else {
            update(slot: slot, parameter: p, gradient: g)
            return
        }
        pool.parallelFor(n, grain: WorkerPool.memoryBoundMinimumWork) { _, range in
            for i in range {
                bp[i] = mu * bp[i] + (gp[i] + wd * pp[i])
                pp[i] -= lr * bp[i]
            }
        }
    }

    /// The pooled update with each gradient value clamped as it is read.
    public func update(slot: Int, parameter p: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeMutableBufferPointer<Float>, clip: Float?, pool: WorkerPool) {
        let n = min(p.count, g.count), lr = learningRate, wd = weightDecay, mu = momentum
        guard clip != nil, let pp = p.baseAddress, let gp = g.baseAddress else {
            update(slot: slot, parameter: p, gradient: UnsafeBufferPointer(g), pool: pool)
            return
        }
        if momentum == 0 {
            pool.parallelFor(n, grain: WorkerPool.memoryBoundMinimumWork) { _, range in
                for i in range { pp[i] -= lr * (clamped(gp[i], clip) + wd * pp[i]) }
            }
            return
        }
        guard let b = buffers[slot], b.count == n, let bp = b.baseAddress else {
            // First step (the buffer is made): clamp in place, as the default does.
            if let c = clip { clipGradientValues(g, clip: c) }
            update(slot: slot, parameter: p, gradient: UnsafeBufferPointer(g))
            return
        }
        pool.parallelFor(n, grain: WorkerPool.memoryBoundMinimumWork) { _, range in
            for i in range {
                bp[i] = mu * bp[i] + (clamped(gp[i], clip) + wd * pp[i])
                pp[i] -= lr * bp[i]
            }
        }
    }

    deinit { for b in buffers.values { b.deallocate() } }
    public func finishStep() {}
    public var stateBytes: Int { buffers.values.reduce(0) { $0 + $1.count * 4 } }
    public func plannedStateBytes(parameterCount: Int) -> Int { momentum == 0 ? 0 : parameterCount * 4 }
}

/// `torch.optim.Adam(lr, betas, eps, weight_decay)` with bias correction.
public final class Adam: Optimizer {
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    /// First and second moments of one parameter tensor.
    private final class Moments {
        let m: UnsafeMutableBufferPointer<Float>, v: UnsafeMutableBufferPointer<Float>
        init(_ n: Int) {
            m = .allocate(capacity: n); m.initialize(repeating: 0)
            v = .allocate(capacity: n); v.initialize(repeating: 0)
        }
        deinit { m.deallocate(); v.deallocate() }
    }
    private var moments: [Int: Moments] = [:]
    private var step = 1

    public init(learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2
        self.epsilon = epsilon; self.weightDecay = weightDecay
    }

    public func update(slot: Int, parameter p: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>) {
        update(slot: slot, parameter: p, gradient: g, clip: nil, pool: .serial)
    }

    public func update(slot: Int, parameter p: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>, pool: WorkerPool) {
        update(slot: slot, parameter: p, gradient: g, clip: nil, pool: pool)
    }

    public func update(slot: Int, parameter p: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeMutableBufferPointer<Float>, clip: Float?, pool: WorkerPool) {
        update(slot: slot, parameter: p, gradient: UnsafeBufferPointer(g), clip: clip, pool: pool)
    }

    /// The update over chunks of the elements; every element's arithmetic is the same
    /// whichever chunk (and lane or tail) holds it, so any split gives the same bits.
    private func update(slot: Int, parameter p: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>, clip: Float?, pool: WorkerPool) {
        update([(slot, p, g)], clip: clip, pool: pool)
    }

    public func update(_ tensors: [ParameterUpdate], clip: Float?, pool: WorkerPool) {
        update(tensors.map { ($0.slot, $0.parameter, UnsafeBufferPointer($0.gradient)) }, clip: clip, pool: pool)
    }

    /// Every tensor split into the same `k` chunks of eight-element blocks (each tensor's
    /// blocks start at its first element, so lanes line up as in a pass over that tensor
    /// alone), in one dispatch: chunk j updates the j-th piece of every tensor.
    ///
    /// Why each tensor is split, rather than all of them laid end to end and cut in `k`: the
    /// pool gives a core the same run of chunks in every job (`WorkerPool.parallelFor`), so
    /// here core p updates the p-th part of every tensor, the rows it wrote when the backward's
    /// weight gradients were split by rows, and the rows of W its forward products read. Laid
    /// end to end, whole tensors went to the core that had not written them. In the vanilla
    /// caption decoder's steps (Zen 4, session 16) the update went from 0.41-0.43 to 0.33-0.35
    /// ms a step near, and from 1.71-2.10 to 1.47-1.58 when the host placed the two vCPUs on
    /// different core complexes (where what it still loses is mostly the moments, which that
    /// placement's caches do not keep from one step to the next).
    private func update(_ tensors: [(slot: Int, p: UnsafeMutableBufferPointer<Float>, g: UnsafeBufferPointer<Float>)], clip: Float?, pool: WorkerPool) {
        struct Span { let p: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
                      let count: Int }
        var spans: [Span] = []
        spans.reserveCapacity(tensors.count)
        var blocks = 0
        for (slot, p, g) in tensors {
            let n = min(p.count, g.count)
            let state: Moments
            if let s = moments[slot], s.m.count == n { state = s } else { state = Moments(n); moments[slot] = state }
            guard n > 0, let pp = p.baseAddress, let gp = g.baseAddress, let mp = state.m.baseAddress, let vp = state.v.baseAddress else { continue }
            spans.append(Span(p: pp, g: gp, m: mp, v: vp, count: n))
            blocks += (n + 7) / 8
        }
        let c1 = 1 - Float(pow(Double(beta1), Double(step)))
        let c2 = 1 - Float(pow(Double(beta2), Double(step)))
        let rule = AdamRule(beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay,
                            stepSize: learningRate / c1, c2Root: c2.squareRoot(), clip: clip)
        let k = pool.chunks(blocks, grain: max(1, optimizerGrain / 8))
        spans.withUnsafeBufferPointer { spans in
            pool.parallelFor(k) { chunk, _ in
                for span in spans {
                    let piece = WorkerPool.range(chunk, of: k, count: (span.count + 7) / 8)
                    let lo = piece.lowerBound * 8, hi = min(piece.upperBound * 8, span.count)
                    if lo < hi { rule.apply(span.p + lo, span.g + lo, span.m + lo, span.v + lo, count: hi - lo) }
                }
            }
        }
    }

    public func finishStep() { step += 1 }
    public var stateBytes: Int { moments.values.reduce(0) { $0 + ($1.m.count + $1.v.count) * 4 } }
    public func plannedStateBytes(parameterCount: Int) -> Int { parameterCount * 8 }
}

/// One step of Adam's element rule with its step's constants, as PyTorch:
/// g += wd * p; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g²;
/// p -= (lr / c1) * m / (sqrt(v) / sqrt(c2) + eps), g first clamped to ±clip when given.
/// Run by CConvKernels' gc_adam_update, per instruction set with the same bits on each:
/// Swift's SIMD types stop at SSE width without target flags, and the square root and two
/// divisions per weight made Adam a fifth of a decoder step.
struct AdamRule {
    let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    let stepSize: Float, c2Root: Float
    let clip: Float?

    /// The rule over `n` elements; `gp` is only read (a clamped value is never stored).
    func apply(_ pp: UnsafeMutablePointer<Float>, _ gp: UnsafePointer<Float>, _ mp: UnsafeMutablePointer<Float>,
               _ vp: UnsafeMutablePointer<Float>, count n: Int) {
        var constants = gc_adam_constants(beta1: beta1, beta2: beta2, epsilon: epsilon, weight_decay: weightDecay,
                                          step_size: stepSize, c2_root: c2Root, clip: clip ?? 0, has_clip: clip == nil ? 0 : 1)
        gc_adam_update(pp, gp, mp, vp, n, &constants)
    }
}

/// `torch.nn.utils.clip_grad_value_`: every gradient value clamped to [-clip, clip].
public func clipGradientValues(_ g: UnsafeMutableBufferPointer<Float>, clip: Float) {
    for i in g.indices { g[i] = min(max(g[i], -clip), clip) }
}

#if canImport(Glibc)
import Glibc
#endif
