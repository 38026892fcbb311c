extension WorkerPool {
    /// Grains tried for memory-bound loops, the fixed default first. A loop of fewer than
    /// twice the grain's elements runs serially, so the grain is where splitting starts to pay:
    /// it depends on the machine's memory bandwidth per core and on how quickly a worker wakes.
    static let memoryBoundGrainCandidates = [memoryBoundMinimumWork, parallelMinimumWork, 2 * parallelMinimumWork,
                                             16 * parallelMinimumWork]

    /// Times an elementwise sum over the sizes such loops have (16K to 1M elements) with each
    /// candidate grain and returns the fastest (`memory-bound-grain`, remembered per machine).
    func measureMemoryBoundGrain() -> Int {
        let candidates = WorkerPool.memoryBoundGrainCandidates
        let key = TuningKey(point: "memory-bound-grain", shapes: [], threads: width)
        let largest = 1 << 20
        let a = UnsafeMutablePointer<Float>.allocate(capacity: largest), b = UnsafeMutablePointer<Float>.allocate(capacity: largest)
        let y = UnsafeMutablePointer<Float>.allocate(capacity: largest)
        defer { a.deallocate(); b.deallocate(); y.deallocate() }
        for i in 0..<largest { a[i] = Float(i & 255); b[i] = 1 }
        let name = tuner.choose(key, variants: candidates.map(String.init)) { name in
            let grain = Int(name) ?? WorkerPool.memoryBoundMinimumWork
            let start = Tuner.now()
            var size = 1 << 14
            while size <= largest {
                parallelFor(size, grain: grain) { _, range in
                    for i in range { y[i] = a[i] + b[i] }
                }
                size <<= 1
            }
            return Tuner.now() - start
        }
        return Int(name) ?? WorkerPool.memoryBoundMinimumWork
    }
}
