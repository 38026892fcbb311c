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
        let n = min(p.count, g.count)
        let state: Moments
        if let s = moments[slot], s.m.count == n { state = s } else { state = Moments(n); moments[slot] = state }
        let m = state.m, v = state.v
        let b1 = beta1, b2 = beta2, wd = weightDecay, eps = epsilon
        let c1 = 1 - Float(pow(Double(b1), Double(step)))
        let c2 = 1 - Float(pow(Double(b2), Double(step)))
        let stepSize = learningRate / c1
        let c2Root = c2.squareRoot()
        // Eight lanes at a time: written with SIMD types because the compiler keeps a scalar
        // loop's square root a libm call (errno), and Adam then took a sixth of a decoder step.
        typealias V = SIMD8<Float>
        let pp = p.baseAddress, gp = g.baseAddress, mp = m.baseAddress, vp = v.baseAddress
        var i = 0
        if let pp, let gp, let mp, let vp {
            let rawP = UnsafeMutableRawPointer(pp), rawG = UnsafeRawPointer(gp)
            let rawM = UnsafeMutableRawPointer(mp), rawV = UnsafeMutableRawPointer(vp)
            while i + 8 <= n {
                let at = i * 4
                var pv = rawP.loadUnaligned(fromByteOffset: at, as: V.self)
                let gi = rawG.loadUnaligned(fromByteOffset: at, as: V.self) + wd * pv
                let mv = b1 * rawM.loadUnaligned(fromByteOffset: at, as: V.self) + (1 - b1) * gi
                let vv = b2 * rawV.loadUnaligned(fromByteOffset: at, as: V.self) + (1 - b2) * gi * gi
                pv -= stepSize * mv / (vv.squareRoot() / c2Root + eps)
                rawM.storeBytes(of: mv, toByteOffset: at, as: V.self)
                rawV.storeBytes(of: vv, toByteOffset: at, as: V.self)
                rawP.storeBytes(of: pv, toByteOffset: at, as: V.self)
                i += 8
            }
        }
        while i < n {
            let gi = g[i] + wd * p[i]
            m[i] = b1 * m[i] + (1 - b1) * gi
            v[i] = b2 * v[i] + (1 - b2) * gi * gi
            // As PyTorch: denom = sqrt(v) / sqrt(c2) + eps; p -= (lr / c1) * m / denom.
            p[i] -= stepSize * m[i] / (v[i].squareRoot() / c2Root + eps)
            i += 1
        }
    }

    public func finishStep() { step += 1 }
    public var stateBytes: Int { moments.values.reduce(0) { $0 + ($1.m.count + $1.v.count) * 4 } }
    public func plannedStateBytes(parameterCount: Int) -> Int { parameterCount * 8 }
}

/// `torch.nn.utils.clip_grad_value_`: every gradient value clamped to [-clip, clip].
public func clipGradientValues(_ g: UnsafeMutableBufferPointer<Float>, clip: Float) {
    for i in g.indices { g[i] = min(max(g[i], -clip), clip) }
}

#if canImport(Glibc)
import Glibc
#endif
