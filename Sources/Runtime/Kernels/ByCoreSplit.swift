import CConvKernels
import Synchronization

// Kernels that read the same large per-example tensor op after op (an attention decoder reads
// its [B, 256, 512] features twice per unrolled step, and the regions' projections four
// times) lose most of their time to memory traffic when the examples land on whichever
// thread claims them first: each core then streams the whole tensor from memory, where one
// half per core would stay in its own cache between the ops. `parallelForByCore` splits the
// examples into one block per thread and hands block i to the thread running on CPU i (mod
// the block count) when that block is still free, so the same examples go to the same core
// in every op that uses it, whenever the scheduler keeps the threads where they were.

extension WorkerPool {
    /// Runs `body` once on each of `chunks(count, grain:, perThread: 1)` contiguous,
    /// near-equal blocks of `0..<count` (`WorkerPool.range`), and returns when all are done.
    /// Block i goes preferably to a thread on CPU i mod the block count; a thread whose
    /// block was taken (two threads on one CPU, or a caller that got to every block first on
    /// a busy machine) takes the next free one. What a block computes never depends on the
    /// thread that runs it.
    public func parallelForByCore(_ count: Int, grain: Int = 1, _ body: (Range<Int>) -> Void) {
        let blocks = min(chunks(count, grain: grain, perThread: 1), BlockClaims.capacity)
        guard blocks > 1 else {
            if count > 0 { body(0..<count) }
            return
        }
        let claims = BlockClaims()
        // As many runs as blocks, each claiming one: every block runs exactly once.
        parallelFor(blocks, perThread: 1) { _, runs in
            for _ in runs {
                let cpu = Int(gc_current_cpu())
                let preferred = cpu >= 0 ? cpu % blocks : 0
                for step in 0..<blocks {
                    let block = (preferred + step) % blocks
                    if claims.claim(block) {
                        body(WorkerPool.range(block, of: blocks, count: count))
                        break
                    }
                }
            }
        }
    }
}

/// Which blocks of one `parallelForByCore` call a thread has taken: one bit each.
private final class BlockClaims: Sendable {
    static let capacity = Int.bitWidth - 1
    private let taken = Atomic<Int>(0)

    /// True for the one caller that takes `block` first.
    func claim(_ block: Int) -> Bool {
        let bit = 1 << block
        return taken.bitwiseOr(bit, ordering: .relaxed).oldValue & bit == 0
    }
}
