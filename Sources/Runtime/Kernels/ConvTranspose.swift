import GraphIR

// CPU kernel of the op declared in GraphIR/Ops/ConvTranspose.swift.

extension ConvTranspose2dOp: KernelOp {
    /// conv2d's input gradient with x in dy's place, then the bias per output channel.
    public static func kernel(_ c: KernelContext) {
        conv2dGradInput(dy: c.inputs[0], weight: c.inputs[1], dx: c.output, attributes: c.attributes, workspace: c.workspace,
                        pool: c.pool)
        guard c.inputs.count > 2 else { return }
        let y = c.output, bias = c.inputs[2].f32
        let channels = y.shape[1], plane = y.shape[2] * y.shape[3]
        for n in 0..<y.shape[0] {
            for ch in 0..<channels {
                let p = y.f32 + (n * channels + ch) * plane, b = bias[ch]
                for e in 0..<plane { p[e] += b }
            }
        }
    }
}
