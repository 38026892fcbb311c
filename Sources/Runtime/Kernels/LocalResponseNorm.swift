#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/LocalResponseNorm.swift.

extension LRNOp: KernelOp {
    public static func kernel(_ c: KernelContext) { lrn(c, backward: false) }
}

extension LRNGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { lrn(c, backward: true) }
}

/// x viewed as [N, C, inner]. Per image, the window sums s = bias + alpha/size Σ x² go into the
/// workspace ([C, inner]); forward writes x s^-beta, backward (inputs dy, x) the gradient.
/// Images are split over the pool, each chunk with its own workspace slice.
private func lrn(_ c: KernelContext, backward: Bool) {
    let x = backward ? c.inputs[1] : c.inputs[0]
    let dy = backward ? c.inputs[0] : nil
    let p = LRNParameters(c.attributes)
    let n = x.shape[0], channels = x.shape[1], inner = x.shape.dropFirst(2).reduce(1, *)
    let plane = channels * inner
    let scale = p.alpha / Float(p.size)
    let grain = max(1, elementwiseGrain / max(plane * p.size, 1))
    // s, then (backward) dy x s^(-beta-1), per chunk.
    let scratch = c.workspace.floats(max((backward ? 2 : 1) * plane * c.pool.chunks(n, grain: grain), 1))
    c.pool.parallelFor(n, grain: grain) { chunk, images in
        let s = scratch + chunk * (backward ? 2 : 1) * plane
        for img in images {
            let xs = x.f32 + img * plane, out = c.output.f32 + img * plane
            for ch in 0..<channels {
                let row = s + ch * inner
                fill(row, inner, 0)
                for j in max(0, ch - p.before)...min(channels - 1, ch + p.after) {
                    let xj = xs + j * inner
                    for e in 0..<inner { row[e] += xj[e] * xj[e] }
                }
                for e in 0..<inner { row[e] = p.bias + scale * row[e] }
            }
            guard let dy else {
                for i in 0..<plane { out[i] = xs[i] * powf(s[i], -p.beta) }
                continue
            }
            let g = dy.f32 + img * plane, t = s + plane
            for i in 0..<plane { t[i] = g[i] * xs[i] * powf(s[i], -p.beta - 1) }
            let k = 2 * scale * p.beta
            for ch in 0..<channels {
                let o = out + ch * inner, xi = xs + ch * inner, gi = g + ch * inner, si = s + ch * inner
                for e in 0..<inner { o[e] = gi[e] * powf(si[e], -p.beta) }
                // Channels j whose window holds ch: ch - after ... ch + before.
                for j in max(0, ch - p.after)...min(channels - 1, ch + p.before) {
                    let tj = t + j * inner
                    for e in 0..<inner { o[e] -= k * xi[e] * tj[e] }
                }
            }
        }
    }
}
