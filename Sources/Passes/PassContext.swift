import GraphIR

/// What the user chooses about a compilation; passes and the pipelines read it.
public struct PassOptions: Sendable {
    /// Bound to the symbolic dimension B when `memory-plan` sizes the values (nil: the
    /// model's `batch_size`, else 1).
    public var batchSize: Int?
    /// Replaces the rate of every dropout mask (`set-dropout`); nil keeps each layer's own.
    public var dropout: Double?
    /// Verify the graph after every pass (`--verify-each`; the tests always do).
    public var verifyEach: Bool
    /// Include the speed-up passes (contract, stack-products, stack-sums, hoist, fusion).
    public var fusion: Bool
    /// Kinds of fusion (`FusionKind`) the fusion pass leaves out, as the tuner decided
    /// (`--tune`): a fusion measured slower than the unfused ops on this machine.
    public var disabledFusions: Set<FusionKind> = []
    /// Exchange the gradients between the processes of a data-parallel job (`data-parallel`,
    /// in buckets of at most `bucketBytes`): set when running under mpirun, or to see the pass.
    public var dataParallel: Bool = false
    public var bucketBytes: Int = PassOptions.defaultBucketBytes
    /// 2 MiB: the Q2 CNN's large first-layer gradient gets a bucket of its own, exchanged
    /// while the convolutions' backward still computes (one 3 MB bucket would start only
    /// after the last gradient, with nothing left to overlap).
    public static let defaultBucketBytes = 2 << 20
    /// How each convolution of an inference graph runs (`blocked-layout`): nil takes the
    /// fixed default (`ConvolutionAlgorithm.blocked`). `TunedCompilation` (Training) measures
    /// with the tuner when it is nil; the command line sets it for `--convolution`.
    public var convolutionChooser: ConvolutionChooser?

    public init(batchSize: Int? = nil, dropout: Double? = nil, verifyEach: Bool = false, fusion: Bool = true) {
        self.batchSize = batchSize; self.dropout = dropout; self.verifyEach = verifyEach; self.fusion = fusion
    }
}

/// What one pass did to the graph (`--pass-stats`, like LLVM's `-stats`).
public struct PassStatistic {
    public let pass: String
    public let nodesBefore: Int
    public internal(set) var nodesAfter: Int
    /// Named counts the pass reported, in the order it first reported them.
    public internal(set) var counters: [(name: String, count: Int)] = []
    /// Wall time, when the pass ran in a pipeline.
    public internal(set) var time: Duration?

    public subscript(counter: String) -> Int { counters.first { $0.name == counter }?.count ?? 0 }
}

/// What a pass runs with: the options, analyses of its input graph computed once and shared
/// by the passes that need them, and the statistics of every pass run so far.
///
/// Analyses are cached for one graph at a time, keyed by its identity. A graph never changes
/// once built (see `Graph`), so an analysis stays true while the pipeline works on the same graph (a pass that finds
/// nothing to do returns its input, and the next pass reuses what was computed); a pass
/// that returns a new graph leaves the cache empty for it.
public final class PassContext {
    public var options: PassOptions
    public private(set) var statistics: [PassStatistic] = []

    private var analysed: Graph?
    private var cachedUseCounts: [Int]?
    private var cachedUsers: [[Int]]?
    private var cachedLastReaders: [Int?]?

    public init(options: PassOptions = PassOptions()) { self.options = options }

    // MARK: - Analyses

    /// For each value, how many nodes (and graph outputs/loss) use it (`Graph.useCounts`).
    public func useCounts(_ g: Graph) -> [Int] {
        select(g)
        if let c = cachedUseCounts { return c }
        let c = g.useCounts()
        cachedUseCounts = c
        return c
    }

    /// For each value, the nodes that read it, in graph order, each once (`Graph.users`).
    public func users(_ g: Graph) -> [[Int]] {
        select(g)
        if let u = cachedUsers { return u }
        let u = g.users()
        cachedUsers = u
        return u
    }

    /// For each value, the last node that reads it (`Graph.lastReaders`).
    public func lastReaders(_ g: Graph) -> [Int?] {
        select(g)
        if let r = cachedLastReaders { return r }
        let r = g.lastReaders()
        cachedLastReaders = r
        return r
    }

    /// Points the cache at `g`, dropping what was computed for another graph.
    private func select(_ g: Graph) {
        if analysed === g { return }
        analysed = g
        cachedUseCounts = nil
        cachedUsers = nil
        cachedLastReaders = nil
    }

    // MARK: - Statistics

    /// Adds `n` to a counter of the running pass (`nodes fused`, `sums stacked`, ...).
    public func count(_ counter: String, _ n: Int = 1) {
        guard n != 0, var s = statistics.popLast() else { return }
        if let i = s.counters.firstIndex(where: { $0.name == counter }) { s.counters[i].count += n } else { s.counters.append((counter, n)) }
        statistics.append(s)
    }

    func begin(_ p: Pass, _ g: Graph) {
        statistics.append(PassStatistic(pass: p.name, nodesBefore: g.nodes.count, nodesAfter: g.nodes.count))
    }

    func end(_ out: Graph) {
        statistics[statistics.count - 1].nodesAfter = out.nodes.count
    }

    func recordTime(_ t: Duration) { statistics[statistics.count - 1].time = t }

    /// One line per pass run: nodes before and after, then its counters.
    public var statisticsReport: String {
        let width = statistics.map(\.pass.count).max() ?? 0
        return statistics.map { s in
            var line = s.pass.padding(toLength: width + 2, withPad: " ", startingAt: 0)
            line += "\(s.nodesBefore) -> \(s.nodesAfter) nodes"
            if !s.counters.isEmpty { line += "; " + s.counters.map { "\($0.name) \($0.count)" }.joined(separator: ", ") }
            return line
        }.joined(separator: "\n")
    }
}
