import GraphIR

// CPU kernels of the ops declared in GraphIR/Ops/ContractRows.swift.

extension ContractRowsOp: KernelOp {
    /// One GEMM: the leading axes of both operands are one K axis in row-major memory. Split
    /// over the pool as other products are (`sgemm(pool:)`, the split tuned per shape): the
    /// executor's OpenBLAS runs one thread.
    public static func kernel(_ c: KernelContext) {
        let a = c.inputs[0], b = c.inputs[1], y = c.output
        guard let m = a.shape.last, let n = b.shape.last else { return }
        let k = m > 0 ? a.count / m : 0
        sgemm(pool: c.pool, transA: true, m: m, n: n, k: k, a: a.f32, lda: m, b: b.f32, ldb: n, c: y.f32, ldc: n)
    }
}
