import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How graphc picks among several ways to run something (`--tune`).
public enum TuneMode: String, CaseIterable, Sendable {
    /// Always the first (default) variant: the fixed choices, the same on every machine.
    case off
    /// Time the variants once per machine and shape, the median of at least `fastRepeats`
    /// runs each (more for short runs, see `Tuner.choose`);
    /// the winner is remembered in the tuning cache.
    case fast
    /// As `fast`, with more runs per variant and the variants marked `fullOnly` too.
    case full
}

/// One way to run a choice point. `run` must compute the same function of the same inputs as
/// every other variant of the point (results may differ by rounding, not by meaning), must
/// write all of its output (it is run several times over the same memory while timing), and
/// must not read memory it writes (no in-place operands).
public struct KernelVariant {
    public let name: String
    /// Tried only with `--tune full` (slow to time, or rarely the winner).
    public let fullOnly: Bool
    public let run: () -> Void

    public init(_ name: String, fullOnly: Bool = false, run: @escaping () -> Void) {
        self.name = name; self.fullOnly = fullOnly; self.run = run
    }
}

/// What the tuner chose for one key, and how (`--profile` lists these).
public struct TuningDecision: Sendable {
    public enum Source: String, Sendable {
        /// `--tune off`, or a single candidate: the default variant.
        case fixed
        /// Read from the tuning cache.
        case cached
        /// Timed in this process, and remembered in the cache.
        case measured
        /// Timed in this process while threads waited for cores (`CPUPressure` above
        /// `Tuner.busyLimit`): used in this process, not remembered.
        case measuredBusy = "measured on a busy machine, not cached"
    }
    public let key: TuningKey
    public let variant: String
    public let source: Source
    /// The median time (seconds) of each variant tried, when measured.
    public let seconds: [(variant: String, seconds: Double)]
    /// When measured by a tuner that checks the machine: the share of time some thread
    /// waited for a core (`CPUPressure.share`) while the variants ran.
    public let pressure: Double?
    /// A challenger that beat the default in the first rounds, timed again against it
    /// (`Tuner.confirmedRatio`): its median time over the default's in those rounds. It was
    /// chosen only if that ratio was below 1 - `Tuner.margin` too.
    public struct Confirmation: Sendable {
        public let challenger: String
        public let ratio: Double
    }
    public let confirmation: Confirmation?

    public init(key: TuningKey, variant: String, source: Source, seconds: [(variant: String, seconds: Double)], pressure: Double? = nil,
                confirmation: Confirmation? = nil) {
        self.key = key; self.variant = variant; self.source = source; self.seconds = seconds; self.pressure = pressure
        self.confirmation = confirmation
    }
}

/// Choice points with measured winners, like FFTW's wisdom: the first time a choice point
/// meets a key (op and shapes, see `TuningKey`) it times each candidate variant on the real
/// operands, runs the winner last (so the output is the winner's), and remembers it in
/// `cache` for this machine (`MachineIdentity`); later uses, in this process or the next,
/// run the winner directly. A given choice always computes the same result, so results are
/// deterministic for a given cache (and with `.off`, always).
///
/// A tuner that checks the machine (`standard`'s does) remembers a choice only when it was
/// measured on a quiet machine: threads waited for a core (`CPUPressure`) at most `busyLimit`
/// of the time. Other work taking the cores favours whichever variant needs fewer of them, so
/// a choice measured then holds for this process only, and the next one measures again. (A
/// cache filled while tests ran beside graphc kept serial products for the caption decoder's
/// 168-row products, half as fast on a quiet machine as the split measured there: its epoch
/// took 1.8 s instead of 1.3.)
///
/// Kernels reach the tuner through their context (`KernelContext.tuner`, the executor's
/// pool's); the executor takes it from `ExecutionOptions.tuner`, else `Tuner.shared`, which
/// the command line sets from `--tune` and which is `.off` in a program that does not.
///
///     c.tuner.run(TuningKey(point: "conv2d", shapes: [x.shape, w.shape], detail: "s1p1", threads: c.pool.width), [
///         KernelVariant("im2col") { im2colConv(...) },
///         KernelVariant("direct") { directConv(...) },
///     ])
///
/// Call it from the thread that drives the pool (a kernel's body, not inside a chunk).
public final class Tuner: @unchecked Sendable {
    public let mode: TuneMode
    public let machine: MachineIdentity
    public let cache: TuningCache?

    /// The tuner executors use when their options name none. Set it before making executors.
    nonisolated(unsafe) public static var shared = Tuner(mode: .off)

    /// Timed runs per variant at least: `fast` takes the median of 3 (3 keeps first use of a
    /// large model short), `full` the median of 9, each after a warm-up round (see `choose`).
    public static let fastRepeats = 3
    public static let fullRepeats = 9
    /// Runs shorter than this, summed over the rounds, get more rounds (up to `maxRounds`):
    /// a thread kept off its core for a few milliseconds (the host running another virtual
    /// machine's vCPU there, which no load figure inside this one shows) slows every run it
    /// overlaps, and three rounds of a 0.5 ms product fit in 5 ms. Measured once, a split
    /// product of the caption decoder lost to the serial one that way (0.9 ms instead of 0.45
    /// per step, for every later run). Over `roundsSeconds` such a stall lands in a minority
    /// of the rounds, and the median ignores it.
    public static let roundsSeconds = 0.025
    public static let maxRounds = 15
    /// A variant other than the default must be this much faster to be chosen, so that
    /// noise does not flip choices between equal variants.
    public static let margin = 0.03
    /// The largest share of time threads may wait for cores while a choice is measured for
    /// it to be remembered (see the type). A quiet machine stays under 1%, and other work on
    /// every core shows 50-100%; graphc's own tuning waits a little (candidates measured on
    /// executors of their own, whose idle workers poll for a while: 9% was seen measuring the
    /// CNN's first convolution), which must not keep a choice from the cache.
    public static let busyLimit = 0.25

    private let lock = NSLock()
    private var chosen: [TuningKey: String] = [:]
    private var made: [TuningDecision] = []
    private var notes: [String] = []

    /// Seconds from some fixed start; `run` times its variants with it.
    private let clock: () -> Double
    /// How busy the machine is (nil: not checked, every measured choice is remembered).
    private let pressure: (() -> CPUPressure?)?
    /// Readings of `pressure` at least half a `CPUPressure.lookback` apart, the first made
    /// with the tuner (so the first choices of a process are judged over its start).
    private var pressureReadings: [CPUPressure] = []

    /// `clock` is for tests (a stand-in whose variants take the seconds the test says), as is
    /// a `pressure` other than `CPUPressure.now`.
    public init(mode: TuneMode, cache: TuningCache? = nil, machine: MachineIdentity = .current,
                clock: @escaping () -> Double = Tuner.now, pressure: (() -> CPUPressure?)? = nil) {
        self.mode = mode; self.cache = cache; self.machine = machine; self.clock = clock; self.pressure = pressure
        pressureReadings = pressure?().map { [$0] } ?? []
        if let w = cache?.warning { notes.append(w) }
    }

    /// Every decision made in this process, in the order first made.
    public var decisions: [TuningDecision] { lock.withLock { made } }

    /// Cache problems (ignored corrupt file, failed write) to show the user once.
    public func takeWarnings() -> [String] { lock.withLock { defer { notes = [] }; return notes } }

    /// Runs the chosen variant (see the type's comment). `variants[0]` is the default.
    public func run(_ key: TuningKey, _ variants: [KernelVariant]) {
        guard let first = variants.first else { return }
        func tried() -> [KernelVariant] { variants.filter { !$0.fullOnly || mode == .full } }
        // Runs on every call of a tuned kernel: the candidates measured are listed only when a
        // cached choice must be checked against them.
        if let name = known(key, names: variants.map(\.name), measuring: tried().map(\.name)),
           let v = variants.first(where: { $0.name == name }) {
            v.run()
            return
        }
        let tried = tried()
        guard tried.count > 1 else {
            record(TuningDecision(key: key, variant: first.name, source: .fixed, seconds: []), remember: false)
            first.run()
            return
        }
        let name = choose(key, variants: tried.map(\.name)) { name in
            let v = tried.first { $0.name == name } ?? first
            let start = clock()
            v.run()
            return clock() - start
        }
        (variants.first { $0.name == name } ?? first).run()
    }

    /// The choice alone, for points whose candidates the caller runs itself (whole graphs,
    /// for fusion): `measure(name)` runs variant `name` once and returns its seconds.
    /// `variants[0]` is the default. The runs come in rounds of one run of each variant: a
    /// first round whose times are dropped (each variant's first run, and the process's first
    /// work: caches, pages and threads warming up, which would otherwise count against
    /// whichever variant came first), then `fastRepeats` (`fullRepeats`) rounds, each
    /// starting one variant further on, so that no variant always runs first, and more rounds
    /// while the timed runs add up to less than `roundsSeconds` (at most `maxRounds`). A
    /// variant's time is its median over the rounds: a burst of load from elsewhere lands in
    /// a minority of the rounds and moves no median. A variant other than the default that
    /// wins by `margin` is timed against the default again, in rounds of the two, and chosen
    /// only if it wins those by `margin` too (`confirmedRatio`). A caller holding one variant
    /// at a time (a whole compiled graph with its memory) makes it afresh at each call. The
    /// winner is remembered in the cache only when the machine was quiet meanwhile (see the type).
    public func choose(_ key: TuningKey, variants: [String], measure: (String) -> Double) -> String {
        guard let first = variants.first else { return "" }
        if let name = known(key, names: variants, measuring: variants) { return name }
        guard variants.count > 1 else {
            record(TuningDecision(key: key, variant: first, source: .fixed, seconds: []), remember: false)
            return first
        }
        let repeats = mode == .full ? Tuner.fullRepeats : Tuner.fastRepeats
        let n = variants.count
        var times = [[Double]](repeating: [], count: n)
        var timed = 0.0
        let start = readPressure()
        for round in 0... {
            guard round <= repeats || (timed < Tuner.roundsSeconds && round <= max(Tuner.maxRounds, repeats)) else { break }
            for i in Tuner.roundOrder(round, variants: n) {
                let seconds = measure(variants[i])
                times[i].append(seconds)
                if round > 0 && seconds.isFinite { timed += seconds }
            }
        }
        // The warm-up round came first: drop each variant's first time.
        let medians = times.map { Tuner.median(Array($0.dropFirst())) }
        var winner = Tuner.winner(medians)
        var confirmation: TuningDecision.Confirmation?
        // (A default that failed every run is not timed again: there is nothing to confirm.)
        if winner != 0 && medians[0].isFinite {
            let ratio = confirmedRatio(variants[winner], against: first, repeats: repeats, measure: measure)
            confirmation = TuningDecision.Confirmation(challenger: variants[winner], ratio: ratio)
            if !(ratio < 1 - Tuner.margin) { winner = 0 }
        }
        let busy = start.flatMap(pressure(since:))
        // Waiting is expected, not a sign of other work, when the key has more threads than
        // the machine has cores.
        let quiet = key.threads > machine.cores || (busy ?? 0) <= Tuner.busyLimit
        record(TuningDecision(key: key, variant: variants[winner], source: quiet ? .measured : .measuredBusy,
                              seconds: zip(variants, medians).map { ($0, $1) }, pressure: busy, confirmation: confirmation),
               remember: quiet)
        return variants[winner]
    }

    /// The challenger's time over the default's in rounds of their own, after the challenger
    /// won `choose`'s rounds: the median over rounds of the ratio of their two runs in that
    /// round (the order alternating), at least `repeats` rounds and more while the timed runs
    /// add up to less than `roundsSeconds` (at most `maxRounds`), rounded up to an even count
    /// so that each of the two runs first as often.
    ///
    /// Why: the fastest of several medians is biased low. Between variants of equal speed, the
    /// one whose rounds happened to be quick wins, and with five challengers one of them often
    /// beats the default by the margin by chance (a ResNet-18 layer moved to im2col by the
    /// whole-graph check that way ran 3% slower in later runs). Timed again, a chance winner
    /// is as likely to be slower as faster, so it must win twice; a variant truly faster by
    /// more than the margin does. Ratios of the same round cancel a slow phase of the machine
    /// that both runs of the round share.
    func confirmedRatio(_ challenger: String, against incumbent: String, repeats: Int, measure: (String) -> Double) -> Double {
        var ratios: [Double] = []
        var timed = 0.0
        for round in 0... {
            if round % 2 == 0 && !(round < repeats || (timed < Tuner.roundsSeconds && round < max(Tuner.maxRounds, repeats))) { break }
            var seconds: [String: Double] = [:]
            for name in Tuner.confirmingOrder(round, challenger: challenger, incumbent: incumbent) { seconds[name] = measure(name) }
            let c = seconds[challenger] ?? .infinity, i = seconds[incumbent] ?? .infinity
            timed += [c, i].filter(\.isFinite).reduce(0, +)
            // A default that failed loses to a challenger that ran; one that failed never wins.
            ratios.append(c == i ? 1 : !c.isFinite ? .infinity : !i.isFinite ? 0 : c / max(i, 1e-300))
        }
        return Tuner.median(ratios)
    }

    /// A reading of the machine's pressure, kept (see `pressureReadings`); nil when the tuner
    /// does not check the machine.
    private func readPressure() -> CPUPressure? {
        guard let probe = pressure, let now = probe() else { return nil }
        lock.withLock {
            if pressureReadings.last.map({ now.at - $0.at >= CPUPressure.lookback / 2 }) ?? true { pressureReadings.append(now) }
            // Only the latest reading old enough to start a window is needed from the past.
            if let keep = pressureReadings.lastIndex(where: { $0.at <= now.at - 2 * CPUPressure.lookback }), keep > 0 {
                pressureReadings.removeFirst(keep)
            }
        }
        return now
    }

    /// The share of time threads waited for cores over a measurement that began at `start`,
    /// and over at least the last `CPUPressure.lookback` seconds: from the latest reading
    /// made at or before both (else the earliest kept) to a reading now. That reading may be
    /// much older (none is made between choices: a whole epoch may pass), which would thin
    /// a load that began just before the measurement out over the quiet time before it, so
    /// the share over the measurement alone counts too when it is long enough to tell
    /// (`CPUPressure.windowFloor`): the larger of the two.
    private func pressure(since start: CPUPressure) -> Double? {
        guard let now = readPressure() else { return nil }
        let bound = min(start.at, now.at - CPUPressure.lookback)
        let from = lock.withLock { (pressureReadings + [start]).filter { $0.at <= bound }.max { $0.at < $1.at } ?? pressureReadings.first }
        let during = now.at - start.at >= CPUPressure.windowFloor ? CPUPressure.share(from: start, to: now) : 0
        return max(CPUPressure.share(from: from, to: now), during)
    }

    /// The indices `choose` measures, in order: a warm-up round 0, 1, ..., n-1, then `rounds`
    /// rounds, round r starting at variant r mod n.
    static func measuringOrder(variants n: Int, rounds: Int) -> [Int] {
        (0...max(rounds, 1)).flatMap { roundOrder($0, variants: n) }
    }

    /// Round `r` of a confirmation (`confirmedRatio`): the default first in even rounds.
    static func confirmingOrder(_ r: Int, challenger: String, incumbent: String) -> [String] {
        r % 2 == 0 ? [incumbent, challenger] : [challenger, incumbent]
    }

    /// Round `r`'s order: variant r mod n first (round 0, the warm-up, from variant 0).
    static func roundOrder(_ r: Int, variants n: Int) -> [Int] { (0..<n).map { (r + $0) % n } }

    /// The middle value (the mean of the middle two for an even count); infinity for none.
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .infinity }
        let sorted = values.sorted(), mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// The variant remembered for `key` (chosen before in this process, or read from the
    /// cache) without timing anything; nil when none of `variants` was. For choices derived
    /// from a measurement made elsewhere (see `remember`). With `.off`, always nil.
    public func recall(_ key: TuningKey, variants: [String]) -> String? {
        mode == .off || variants.isEmpty ? nil : known(key, names: variants, measuring: nil)
    }

    /// Remembers `variant` for `key` as measured (in the cache, and in `decisions` with
    /// `seconds`), for a choice the caller measured itself as part of a larger one (a layer's
    /// algorithm confirmed by timing the whole graph). `partOf`: the key of that larger choice;
    /// when it was measured on a busy machine, so is this one (used, not cached). Ignored
    /// with `.off`.
    public func remember(_ key: TuningKey, variant: String, seconds: [(variant: String, seconds: Double)] = [], partOf: TuningKey? = nil) {
        guard mode != .off else { return }
        let larger = partOf.flatMap { k in lock.withLock { made.first { $0.key == k } } }
        let busy = larger?.source == .measuredBusy
        record(TuningDecision(key: key, variant: variant, source: busy ? .measuredBusy : .measured, seconds: seconds,
                              pressure: larger?.pressure), remember: !busy)
    }

    /// Has `key` answer `variant` in this process from now on, without caching it: for a
    /// larger choice that runs a kernel's variants itself, per graph (a training step with its
    /// thin products split over k), while the kernel's own cached choice stays what it
    /// measured alone. A decision already made for `key` shows `variant` from now on (same
    /// source and times); none is added. Ignored with `.off`.
    public func use(_ key: TuningKey, variant: String) {
        guard mode != .off else { return }
        lock.withLock {
            chosen[key] = variant
            if let i = made.firstIndex(where: { $0.key == key }) {
                let d = made[i]
                made[i] = TuningDecision(key: key, variant: variant, source: d.source, seconds: d.seconds, pressure: d.pressure,
                                         confirmation: d.confirmation)
            }
        }
    }

    /// Keeps `key`'s choice for this process but has the cache hold it as measured against no
    /// candidates, so that the next process measures it again (as a version 1 file's): for a
    /// choice remembered as measured whose confirmation, a larger choice measured on a busy
    /// machine, was not remembered (`TunedCompilation`'s close layers: read from the cache, a
    /// choice has no times and no runner-up, so it would never be confirmed). Nothing without
    /// a cache or a choice for `key`.
    public func measureAgain(_ key: TuningKey) {
        guard mode != .off, let cache, let variant = lock.withLock({ chosen[key] }) else { return }
        guard let failure = cache.remember(variant, for: key, on: machine, among: []) else { return }
        lock.withLock { if !notes.contains(failure) { notes.append(failure) } }
    }

    /// The index of the fastest time; the default (index 0) unless another beats it by `margin`.
    static func winner(_ seconds: [Double]) -> Int {
        var best = 0
        for i in seconds.indices.dropFirst() where seconds[i] < seconds[best] { best = i }
        return best != 0 && seconds[best] < seconds[0] * (1 - margin) ? best : 0
    }

    /// The variant to use without timing: the default with `.off`, else one chosen before.
    /// A cached choice answers a point that would measure `measuring` only if it was measured
    /// against all of those (a candidate added since is measured again, as is a choice from a
    /// version 1 file, whose candidates nobody knows); a choice pinned without its candidates
    /// (through `TuningCache.remember`) answers as it is, and so does any with `measuring` nil
    /// (`recall`).
    private func known(_ key: TuningKey, names: [String], measuring: @autoclosure () -> [String]?) -> String? {
        if mode == .off {
            return lock.withLock {
                if chosen[key] == nil {
                    chosen[key] = names[0]
                    made.append(TuningDecision(key: key, variant: names[0], source: .fixed, seconds: []))
                }
                return names[0]
            }
        }
        if let name = lock.withLock({ chosen[key] }), names.contains(name) { return name }
        if let entry = cache?.entry(key, on: machine), names.contains(entry.variant),
           measuring().map({ wanted in entry.among.map { Set(wanted).isSubset(of: $0) } ?? true }) ?? true {
            record(TuningDecision(key: key, variant: entry.variant, source: .cached, seconds: []), remember: false)
            return entry.variant
        }
        return nil
    }

    private func record(_ d: TuningDecision, remember: Bool) {
        let among = d.seconds.isEmpty ? nil : d.seconds.map(\.variant)
        let failure = remember ? cache?.remember(d.variant, for: d.key, on: machine, among: among) : nil
        lock.withLock {
            // By `made` itself, not `chosen`: a key `use`d before its first decision still gets one.
            if let i = made.firstIndex(where: { $0.key == d.key }) { made[i] = d } else { made.append(d) }
            chosen[d.key] = d.variant
            if let failure, !notes.contains(failure) { notes.append(failure) }
        }
    }

    /// Seconds on the monotonic clock: the clock a tuner times with unless given another.
    public static func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}

extension Tuner {
    /// A tuner for `mode` on this machine with the cache at `TuningCache.defaultURL` (no cache
    /// file is read or written with `.off`), remembering only what it measured on a quiet
    /// machine (`CPUPressure`).
    public static func standard(mode: TuneMode) -> Tuner {
        Tuner(mode: mode, cache: mode == .off ? nil : TuningCache(url: TuningCache.defaultURL), pressure: CPUPressure.now)
    }
}
