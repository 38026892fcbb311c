#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization
import CConvKernels

/// Long-lived threads that run one kernel's work in contiguous chunks: `threads - 1` workers
/// plus the calling thread.
///
/// Why not OpenBLAS's threads or a task library: the CNN's kernels run for fractions of a
/// millisecond each, so a dispatch must cost microseconds, and results must not depend on scheduling. Work is split
/// statically (chunk `t` of `k` is always the same range, with its own scratch slice and
/// partial sums indexed by `t`), and callers that reduce combine per-chunk partials in chunk
/// order, so a given thread count gives bit-identical results run after run, whichever
/// thread ran which chunk.
///
/// Dispatch: the caller publishes the job with a new generation in `state` (one word holding
/// the generation, the chunk count and the next unclaimed chunk) and then claims chunks itself, like the
/// workers. So on a busy machine, where a worker may not get a core for milliseconds, the
/// caller simply runs every chunk and waits only for chunks a worker has started. Idle
/// workers poll `state` for `spinSeconds`, then sleep on a condition variable.
///
/// A call from inside a chunk (a convolution's per-image GEMM) runs serially, as does work
/// below the caller's grain. One pool belongs to one executor and is driven from one thread
/// at a time.
public final class WorkerPool: @unchecked Sendable {
    /// Chunks a job is split into at most: the workers plus the caller.
    public let threads: Int

    /// A pool without workers: every `parallelFor` runs inline. Its tuner is off.
    public static let serial = WorkerPool(threads: 1, tuner: Tuner(mode: .off))

    /// Chooses among kernel variants, split shapes and grains for the kernels run on this
    /// pool (they depend on its width, so each pool has one).
    public let tuner: Tuner

    /// generation << 24 | chunks << 12 | next chunk to claim: a thread that claims a chunk
    /// knows from the same word that the chunk exists in the job it belongs to.
    private let state = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    /// 1 while the caller sleeps until the last chunk is finished.
    private let callerSleeps = Atomic<Int>(0)
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let wake: UnsafeMutablePointer<pthread_cond_t>
    private let done: UnsafeMutablePointer<pthread_cond_t>
    private var workers: [pthread_t] = []

    // The current job: written by the caller before `state`'s store, read by a thread only
    // after it claimed a chunk of that generation, and not changed while a claimed chunk runs.
    private var job: ((Int, Range<Int>) -> Void)?
    private var jobCount = 0
    private var stopping = false
    /// True while a job runs: nested calls (from any chunk) run serially.
    private var busy = false

    /// How long an idle worker keeps polling before it sleeps: long enough to bridge the
    /// gaps between the kernels of a step, short enough not to steal a busy machine's core.
    static let spinSeconds = 200e-6

    /// `tuner` nil: `Tuner.shared` as it is now.
    public init(threads: Int, tuner: Tuner? = nil) {
        self.threads = min(max(1, threads), WorkerPool.maxChunks)
        self.tuner = tuner ?? Tuner.shared
        mutex = .allocate(capacity: 1)
        wake = .allocate(capacity: 1)
        done = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
        for _ in 1..<self.threads {
            let context = Unmanaged.passRetained(WorkerStart(pool: self)).toOpaque()
            var thread = pthread_t()
            if pthread_create(&thread, nil, { raw in
                guard let raw else { return nil }
                let start = Unmanaged<WorkerStart>.fromOpaque(raw).takeRetainedValue()
                start.pool.workerLoop()
                return nil
            }, context) == 0 {
                workers.append(thread)
            } else {
                Unmanaged<WorkerStart>.fromOpaque(context).release()
            }
        }
    }

    deinit {
        stopping = true
        publish(generationAfter: state.load(ordering: .relaxed), chunks: 0)
        for t in workers { pthread_join(t, nil) }
        pthread_cond_destroy(wake)
        pthread_cond_destroy(done)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        wake.deallocate()
        done.deallocate()
    }

    /// Threads that can run chunks (the caller plus the workers that started).
    public var width: Int { workers.count + 1 }

    /// True inside a chunk of a running job, where nested work runs serially (and choice
    /// points must not time variants: the other chunks are running).
    public var isRunningJob: Bool { busy }

    /// How many chunks `parallelFor(count, grain:perThread:)` splits into: at most
    /// `perThread * width`, each at least `grain` items; 1 when called from inside a chunk.
    public func chunks(_ count: Int, grain: Int = 1, perThread: Int = chunksPerThread) -> Int {
        if busy || width == 1 { return 1 }
        return max(1, min(width * max(perThread, 1), count / max(grain, 1), WorkerPool.maxChunks))
    }

    /// Chunks per thread by default. More than one, so that on a busy machine, where a
    /// worker may not get a core for a while, the caller takes over the chunks it has not
    /// claimed instead of waiting for it.
    public static let chunksPerThread = 4
    /// The chunk count and index share `state` with the generation (12 bits each).
    static let maxChunks = 4095

    /// Items per chunk so that a chunk holds at least `parallelMinimumWork` operations when
    /// one item costs `itemCost`: smaller work is not worth waking a thread for.
    public static func grain(itemCost: Int) -> Int {
        max(1, parallelMinimumWork / max(itemCost, 1))
    }

    /// About 10-20 µs of simple loop work: a dispatch costs a few µs.
    public static let parallelMinimumWork = 1 << 15

    /// Elements per chunk for memory-bound loops (elementwise, pooling) with tuning off: four
    /// times the general minimum, as two threads gain less than 2x on them, and on a busy
    /// machine (the worker sharing a core with the caller) splitting small ones is slower than
    /// the serial loop. With tuning on, `memoryBoundGrain` is measured instead.
    public static let memoryBoundMinimumWork = 4 * parallelMinimumWork

    /// Elements per chunk for this pool's memory-bound loops: `memoryBoundMinimumWork`, or
    /// with tuning on the grain the tuner measured for this machine and width
    /// (`memory-bound-grain`, see WorkerPoolGrain.swift), found on first use.
    public var memoryBoundGrain: Int {
        if let g = tunedGrain { return g }
        guard width > 1, tuner.mode != .off, !busy else { return WorkerPool.memoryBoundMinimumWork }
        let g = measureMemoryBoundGrain()
        tunedGrain = g
        return g
    }
    private var tunedGrain: Int?

    /// The `chunk`-th of `chunks` contiguous, near-equal pieces of `0..<count`.
    @inline(__always)
    public static func range(_ chunk: Int, of chunks: Int, count: Int) -> Range<Int> {
        (chunk * count / chunks)..<((chunk + 1) * count / chunks)
    }

    /// Runs `body(chunk, range)` over `chunks(count, grain:perThread:)` contiguous pieces of
    /// `0..<count` and returns when all are done. What a chunk is never depends on the thread
    /// that runs it. Which thread runs it: the chunks fall into one contiguous run per thread
    /// (`range(i, of: width, count: chunks)`), and the thread on CPU c takes the chunks of run
    /// c mod width first, then, when those are taken, the others from the last back (their
    /// owner works up from its first). So the same items go to the same core in every job over
    /// them whenever the threads stay where they are, as OpenMP's static schedule does, and a
    /// busy machine's caller still takes over a late worker's chunks. (CPU numbers other than
    /// 0..<width, as in a process confined to CPUs 0 and 2, can give two threads the same run:
    /// still correct, less local. A job of more chunks than `ChunkClaims.capacity`, 63, has
    /// them claimed in order by whichever thread comes first.)
    ///
    /// Why by core: when the host places the vCPUs on different core complexes (a cache line
    /// another core wrote then costs 300-600 ns instead of 50-90, `bench/core_round_trip.c`),
    /// an op whose images went to the other core than in the op before pays that for every
    /// line it reads or overwrites. Measured on Zen 4, the CNN at batch 64 in such phases
    /// (session 15): with chunks claimed first come, first served, the pooling gradient took
    /// 0.73-0.77 ms a step; by core (and the batch copied in by core, `HostTensor.copyBytes`),
    /// 0.07-0.08 ms, as when the cores are close.
    public func parallelFor(_ count: Int, grain: Int = 1, perThread: Int = chunksPerThread,
                            _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) {
        let k = chunks(count, grain: grain, perThread: perThread)
        guard k > 1 else {
            if count > 0 { body(0, 0..<count) }
            return
        }
        guard k <= ChunkClaims.capacity else { return dispatch(k, count: count, body) }
        let claims = ChunkClaims(), w = width
        // k claims of one chunk each: every chunk runs exactly once, whoever claims it.
        dispatch(k, count: k) { _, _ in
            let own = WorkerPool.ownChunks(cpu: Int(gc_current_cpu()), width: w, chunks: k)
            // `first(where:)` stops at the first chunk claimed: one chunk per claim.
            let chunk = own.first { claims.claim($0) } ?? (0..<k).reversed().first { !own.contains($0) && claims.claim($0) }
            if let chunk { body(chunk, WorkerPool.range(chunk, of: k, count: count)) }
        }
    }

    /// The chunks a thread on `cpu` (-1: unknown) takes first out of `chunks` on a pool of
    /// `width` threads: run `cpu mod width` of the runs that tile `0..<chunks`.
    static func ownChunks(cpu: Int, width: Int, chunks: Int) -> Range<Int> {
        WorkerPool.range(cpu >= 0 ? cpu % max(width, 1) : 0, of: max(width, 1), count: chunks)
    }

    /// Runs `body(chunk, range(chunk, of: k, count:))` for chunks 0..<k, each claimed by the
    /// next free thread (caller included), and returns when all are done.
    private func dispatch(_ k: Int, count: Int, _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) {
        withoutActuallyEscaping(body) { body in
            busy = true
            job = body
            jobCount = count
            finished.store(0, ordering: .relaxed)
            let generation = publish(generationAfter: state.load(ordering: .relaxed), chunks: k)
            runChunks(of: generation)
            waitUntilFinished(k)
            job = nil
            busy = false
        }
    }

    /// Waits for the chunks workers are still running: a short poll, then sleep. Sleeping
    /// matters when the worker shares a core with the caller (another process holds the
    /// other one): a polling caller would keep the core the worker needs to finish.
    private func waitUntilFinished(_ chunks: Int) {
        if finished.load(ordering: .acquiring) >= chunks { return }
        let deadline = monotonicNow() + WorkerPool.callerSpinSeconds
        while monotonicNow() < deadline {
            if finished.load(ordering: .acquiring) >= chunks { return }
        }
        pthread_mutex_lock(mutex)
        callerSleeps.store(1, ordering: .sequentiallyConsistent)
        while finished.load(ordering: .sequentiallyConsistent) < chunks { pthread_cond_wait(done, mutex) }
        callerSleeps.store(0, ordering: .sequentiallyConsistent)
        pthread_mutex_unlock(mutex)
    }

    /// Generations live in the bits of `state` above the two 12-bit chunk fields.
    static let generationMask = (1 << 39) - 1

    /// How long the caller polls for workers' chunks before it sleeps.
    static let callerSpinSeconds = 30e-6

    /// Starts the generation after `current`'s, a job of `chunks` chunks none of which is
    /// claimed, and wakes sleepers.
    @discardableResult
    private func publish(generationAfter current: Int, chunks: Int) -> Int {
        // Generations wrap within the 39 bits above the chunk fields, so the number stored is
        // the number returned (after 2^39 jobs a plain increment would shift out of the word).
        let generation = ((current >> 24) + 1) & WorkerPool.generationMask
        state.store(generation << 24 | chunks << 12, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            pthread_mutex_lock(mutex)
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
        }
        return generation
    }

    /// Claims and runs chunks of `generation` until none is left (or a newer job replaced it).
    private func runChunks(of generation: Int) {
        var current = state.load(ordering: .acquiring)
        while current >> 24 == generation {
            let chunks = (current >> 12) & 0xFFF, chunk = current & 0xFFF
            guard chunk < chunks else { return }
            let (exchanged, original) = state.compareExchange(expected: current, desired: current + 1,
                                                              ordering: .acquiringAndReleasing)
            guard exchanged else { current = original; continue }
            // The chunk is ours: the caller waits for it, so the job stays as published.
            run(chunk, of: chunks)
            let total = finished.add(1, ordering: .sequentiallyConsistent).newValue
            if total == chunks && callerSleeps.load(ordering: .sequentiallyConsistent) != 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_signal(done)
                pthread_mutex_unlock(mutex)
            }
            current = state.load(ordering: .acquiring)
        }
    }

    /// Runs one claimed chunk. A function of its own so that this thread's reference to the
    /// job's closure is gone when it returns, before the chunk counts as finished (the caller
    /// then ends the closure's life, which checks that nobody kept it).
    @inline(never)
    private func run(_ chunk: Int, of chunks: Int) {
        guard let job else { return }
        job(chunk, WorkerPool.range(chunk, of: chunks, count: jobCount))
    }

    private func workerLoop() {
        var seen = 0
        while true {
            var now = state.load(ordering: .acquiring) >> 24
            if now == seen {
                let deadline = monotonicNow() + WorkerPool.spinSeconds
                var spins = 0
                while now == seen {
                    spins += 1
                    // Polling yields: when this process has fewer cores than threads (another
                    // process holds one), a worker spinning flat out would take the caller's.
                    if spins > 64 { sched_yield() }
                    if spins & 15 == 0 && monotonicNow() > deadline {
                        pthread_mutex_lock(mutex)
                        sleepers.add(1, ordering: .sequentiallyConsistent)
                        while state.load(ordering: .sequentiallyConsistent) >> 24 == seen { pthread_cond_wait(wake, mutex) }
                        sleepers.subtract(1, ordering: .sequentiallyConsistent)
                        pthread_mutex_unlock(mutex)
                    }
                    now = state.load(ordering: .acquiring) >> 24
                }
            }
            seen = now
            if stopping { return }
            runChunks(of: now)
        }
    }
}

/// What a new worker thread needs (passed through pthread_create's one pointer).
private final class WorkerStart {
    unowned(unsafe) let pool: WorkerPool
    init(pool: WorkerPool) { self.pool = pool }
}

@inline(__always)
private func monotonicNow() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
