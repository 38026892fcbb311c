import CMPI
import Foundation
import Runtime

/// Sums gradient buckets over the job with `MPI_Iallreduce`, on a thread of its own so the
/// sum proceeds while the main thread computes the rest of the backward pass.
///
/// `start` (called by an `allreduce_start` kernel) queues the bucket; the communication
/// thread starts the non-blocking all-reduce on it, in queue order (the same order on every
/// process, since every process runs the same graph), and drives it to completion with
/// `MPI_Test`. `wait` (an `allreduce_wait` kernel) blocks until the bucket is done. The time
/// `wait` blocks is communication compute did not hide; the thread's time from starting to
/// finishing a bucket is the communication itself (`statistics`).
public final class MPIGradientCommunicator: GradientCommunicator, @unchecked Sendable {
    public var share: Float = 1
    private let world: World
    private let condition = NSCondition()
    private var queue: [(bucket: Int, data: UnsafeMutablePointer<Float>, count: Int)] = []
    private var started: [Int: Int] = [:]
    private var finished: [Int: Int] = [:]
    private var thread: Thread?

    /// Totals since the last `resetStatistics`.
    public struct Statistics: Sendable {
        public var buckets = 0
        public var bytes = 0
        /// Seconds from starting each all-reduce to its completion, summed.
        public var communicationSeconds = 0.0
        /// Seconds `allreduce_wait` blocked, summed: communication that compute did not hide.
        public var waitSeconds = 0.0
        /// Share of the communication time that overlapped compute.
        public var hiddenFraction: Double {
            communicationSeconds > 0 ? max(0, min(1, 1 - waitSeconds / communicationSeconds)) : 0
        }
    }
    private var stats = Statistics()
    public var statistics: Statistics { condition.lock(); defer { condition.unlock() }; return stats }
    public func resetStatistics() { condition.lock(); stats = Statistics(); condition.unlock() }

    public init(world: World) {
        self.world = world
        guard world.usesMPI, world.threadsMayCall else { return }
        let t = Thread { [unowned self] in self.serve() }
        t.name = "graphc-allreduce"
        thread = t
        t.start()
    }

    public func start(bucket: Int, data: UnsafeMutablePointer<Float>, count: Int) {
        condition.lock()
        started[bucket, default: 0] += 1
        stats.buckets += 1
        stats.bytes += count * 4
        if thread == nil {
            condition.unlock()
            let t0 = monotonic()
            allReduce(data, count)
            condition.lock()
            stats.communicationSeconds += monotonic() - t0
            finished[bucket, default: 0] += 1
        } else {
            queue.append((bucket, data, count))
            condition.broadcast()
        }
        condition.unlock()
    }

    public func wait(bucket: Int) {
        let t0 = monotonic()
        condition.lock()
        while finished[bucket, default: 0] < started[bucket, default: 0] { condition.wait() }
        stats.waitSeconds += monotonic() - t0
        condition.unlock()
    }

    /// The communication thread: one bucket at a time, in the order they were started.
    private func serve() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let job = queue.removeFirst()
            condition.unlock()
            let t0 = monotonic()
            allReduce(job.data, job.count)
            let seconds = monotonic() - t0
            condition.lock()
            stats.communicationSeconds += seconds
            finished[job.bucket, default: 0] += 1
            condition.broadcast()
            condition.unlock()
        }
    }

    /// Sums in place over the job. Progress is driven by MPI_Test, giving the cores back
    /// between polls: on a machine where compute uses every core, a spinning wait would take
    /// one from it.
    private func allReduce(_ data: UnsafeMutablePointer<Float>, _ count: Int) {
        var request = cmpi_request_null()
        MPI_Iallreduce(cmpi_in_place(), data, Int32(count), cmpi_float(), cmpi_sum(), cmpi_comm_world(), &request)
        var done: Int32 = 0
        var polls = 0
        while true {
            MPI_Test(&request, &done, cmpi_status_ignore())
            if done != 0 { return }
            polls += 1
            if polls < 64 { sched_yield() } else { usleep(20) }
        }
    }

    private func monotonic() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
