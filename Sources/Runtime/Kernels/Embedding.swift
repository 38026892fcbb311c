import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/Embedding.swift.

extension EmbeddingOp: KernelOp {
    public static func kernel(_ c: KernelContext) { embeddingLookup(ids: c.inputs[0], table: c.inputs[1], into: c.output) }
}

extension EmbeddingGradOp: KernelOp {
    public static func kernel(_ c: KernelContext) { embeddingScatterAdd(dy: c.inputs[0], ids: c.inputs[1], into: c.output) }
}
