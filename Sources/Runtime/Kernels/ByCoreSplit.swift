import Synchronization

// Kernels that read the same large per-example tensor op after op (an attention decoder reads
// its [B, 256, 512] features twice per unrolled step, and the regions' projections four
// times) lose most of their time to memory traffic when the examples land on whichever
// thread claims them first: each core then streams the whole tensor from memory, where one
// half per core would stay in its own cache between the ops. Every `parallelFor` hands its
// chunks out by core (see there); `parallelForByCore` is the one-block-per-thread form.

extension WorkerPool {
    /// Runs `body` once on each of `chunks(count, grain:, perThread: 1)` contiguous,
    /// near-equal blocks of `0..<count` (`WorkerPool.range`), and returns when all are done.
    /// The blocks go to threads by core as every `parallelFor`'s chunks do (with as many blocks
    /// as threads, block i to the thread on CPU i mod the width). What a block computes never
    /// depends on the thread that runs it.
    public func parallelForByCore(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        parallelFor(count, grain: grain, perThread: 1) { _, block in body(block) }
    }
}

/// Which chunks of one `parallelFor` call a thread has taken: one bit each.
final class ChunkClaims: Sendable {
    static let capacity = Int.bitWidth - 1
    private let taken = Atomic<Int>(0)

    /// True for the one caller that takes `chunk` first.
    func claim(_ chunk: Int) -> Bool {
        let bit = 1 << chunk
        return taken.bitwiseOr(bit, ordering: .relaxed).oldValue & bit == 0
    }
}
