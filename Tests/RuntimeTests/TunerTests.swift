import Foundation
@testable import Runtime
import XCTest

/// The tuner's choices, its cache file and key. Candidate speeds come from a stand-in
/// `measure` returning fixed seconds, so nothing here depends on timing.
final class TunerTests: XCTestCase {
    let machine = MachineIdentity(cpuModel: "Test CPU @ 1.00GHz", cores: 2, blasCore: "Haswell", kernelISA: "AVX2+FMA")
    let key = TuningKey(point: "gemm-split", shapes: [[8, 1152], [1152, 600]], detail: "tb", threads: 2)

    func temporaryCache() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-tuner-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.appendingPathComponent("tuning.json")
    }

    /// A cache file as an older graphc wrote it: one table for `machine`'s CPU, cores and
    /// OpenBLAS core (plus `machineFields`), holding "columns" for `key`.
    func cacheFile(machineFields: String) throws -> URL {
        let url = try temporaryCache()
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let text = """
            {"format": "graphc-tuning", "version": 1, "machines": [{"cpu": "\(machine.cpuModel)", "cores": 2, "blas": "Haswell",
             \(machineFields) "choices": {"\(key.description)": "columns"}}]}
            """
        try Data(text.utf8).write(to: url)
        return url
    }

    /// `use` forces a choice for this process only: the kernel's point answers it and its
    /// decision shows it, but no decision is added and the cache keeps what was measured; a key
    /// `use`d before any decision still gets its decision listed when one is made.
    func testUseForcesAChoiceForThisProcessOnly() throws {
        let url = try temporaryCache()
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine)
        let variants = ["rows", "columns", "serial"]
        XCTAssertEqual(tuner.choose(key, variants: variants) { $0 == "columns" ? 1 : 2 }, "columns")
        tuner.use(key, variant: "serial")
        XCTAssertEqual(tuner.recall(key, variants: variants), "serial")
        XCTAssertEqual(tuner.decisions.map(\.variant), ["serial"], "the decision shows what runs")
        XCTAssertEqual(tuner.decisions.first?.seconds.map(\.variant), variants, "with the times it was measured with")
        XCTAssertEqual(TuningCache(url: url).entry(key, on: machine)?.variant, "columns", "not cached")

        let other = TuningKey(point: "thin-matmul", shapes: [[64, 600], [600, 1152]], detail: "", threads: 2)
        tuner.use(other, variant: "k-split-2")
        XCTAssertEqual(tuner.decisions.count, 1, "use adds no decision")
        tuner.remember(other, variant: "unpacked")
        XCTAssertEqual(tuner.decisions.map(\.key), [key, other], "a decision made after use is listed")
    }

    func testKeyTextRoundTrip() {
        XCTAssertEqual(key.description, "gemm-split 8x1152*1152x600 tb @2")
        XCTAssertEqual(TuningKey(cacheText: key.description), key)
        let plain = TuningKey(point: "conv2d", shapes: [[8, 1, 28, 28], [32, 1, 3, 3]], threads: 1)
        XCTAssertEqual(plain.description, "conv2d 8x1x28x28*32x1x3x3 @1")
        XCTAssertEqual(TuningKey(cacheText: plain.description), plain)
        let shapeless = TuningKey(point: "memory-bound-grain", shapes: [], threads: 2)
        XCTAssertEqual(shapeless.description, "memory-bound-grain - @2")
        XCTAssertEqual(TuningKey(cacheText: shapeless.description), shapeless)
        for bad in ["", "gemm-split", "gemm-split 8x8 @0", "gemm-split 8xq @2", "x 8x8 tb", "a b c d @1"] {
            XCTAssertNil(TuningKey(cacheText: bad), bad)
        }
    }

    func testMachineModelNameFromCPUInfo() {
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC  9R14 96-Core Processor\nflags\t: avx2\n"
        XCTAssertEqual(MachineIdentity.parseModelName(cpuinfo), "AMD EPYC 9R14 96-Core Processor")
        XCTAssertNil(MachineIdentity.parseModelName("processor\t: 0\n"))
        XCTAssertFalse(MachineIdentity.current.blasCore.isEmpty)
        XCTAssertEqual(MachineIdentity.current.kernelISA, VectorISA.current.description)
        defer { VectorISA.limit(to: nil) }
        let limited = VectorISA.limit(to: .sse2)
        XCTAssertEqual(MachineIdentity.current.kernelISA, limited.description, "the identity follows a limit set after start-up")
    }

    func testCacheRoundTripPerMachine() throws {
        let url = try temporaryCache()
        let cache = TuningCache(url: url)
        XCTAssertNil(cache.warning, "a missing file is not a problem")
        XCTAssertNil(cache.remember("columns", for: key, on: machine))
        let other = MachineIdentity(cpuModel: machine.cpuModel, cores: 2, blasCore: "SkylakeX", kernelISA: machine.kernelISA)
        XCTAssertNil(cache.remember("rows", for: key, on: other))
        let sse2 = MachineIdentity(cpuModel: machine.cpuModel, cores: 2, blasCore: machine.blasCore, kernelISA: "SSE2")
        XCTAssertNil(cache.remember("serial", for: key, on: sse2))

        let reread = TuningCache(url: url)
        XCTAssertNil(reread.warning)
        XCTAssertEqual(reread.choice(key, on: machine), "columns")
        XCTAssertEqual(reread.choice(key, on: other), "rows", "OpenBLAS's core is part of the machine")
        XCTAssertEqual(reread.choice(key, on: sse2), "serial", "so is the instruction set of graphc's own kernels")
        XCTAssertNil(reread.choice(TuningKey(point: key.point, shapes: key.shapes, detail: key.detail, threads: 1), on: machine))
        XCTAssertNil(reread.choice(key, on: MachineIdentity(cpuModel: "Other", cores: 2, blasCore: "Haswell", kernelISA: "AVX2+FMA")))
    }

    /// A table written before the cache recorded the kernels' instruction set is read without
    /// a warning but applies to no machine: its choices were measured with unknown kernels.
    func testTableWithoutInstructionSetMatchesNoMachine() throws {
        let url = try temporaryCache()
        let old = """
            {"format": "graphc-tuning", "version": 1, "machines": [{"cpu": "\(machine.cpuModel)", "cores": 2, "blas": "Haswell",
             "choices": {"\(key.description)": "columns"}}]}
            """
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(old.utf8).write(to: url)
        let cache = TuningCache(url: url)
        XCTAssertNil(cache.warning)
        XCTAssertNil(cache.choice(key, on: machine))
        XCTAssertEqual(cache.choice(key, on: MachineIdentity(cpuModel: machine.cpuModel, cores: 2, blasCore: "Haswell", kernelISA: "")), "columns")
    }

    /// Two caches on one file (two processes): a save keeps what the other wrote.
    func testSavesMergeWithTheFile() throws {
        let url = try temporaryCache()
        let a = TuningCache(url: url), b = TuningCache(url: url)
        let other = TuningKey(point: "thin-matmul", shapes: [[8, 256], [256, 1024]], detail: "tb", threads: 2)
        a.remember("rows", for: key, on: machine)
        b.remember("columns-128", for: other, on: machine)
        let reread = TuningCache(url: url)
        XCTAssertEqual(reread.choice(key, on: machine), "rows")
        XCTAssertEqual(reread.choice(other, on: machine), "columns-128")
    }

    func testCorruptCacheWarnsAndIsRebuilt() throws {
        let url = try temporaryCache()
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let bad: [String] = ["{not json", #"{"format": "graphc-tuning", "version": 99, "machines": []}"#,
                             #"{"format": "graphc-tuning", "version": 1, "machines": [{"cpu": "x", "cores": 2, "blas": "y", "choices": {"nonsense": "rows"}}]}"#,
                             String(repeating: "\u{0}", count: 40)]
            // Well formed, but of a version this graphc does not know (a later graphc's, or none).
            + [TuningCache.version + 1, 0].map { version in
                #"{"format": "graphc-tuning", "version": \#(version), "machines": [{"cpu": "\#(machine.cpuModel)", "cores": 2, "blas": "Haswell", "isa": "AVX2+FMA", "choices": {"\#(key.description)": "rows"}}]}"#
            }
        for text in bad {
            try Data(text.utf8).write(to: url)
            let cache = TuningCache(url: url)
            XCTAssertNotNil(cache.warning, text)
            XCTAssertTrue(cache.choices(on: machine).isEmpty)
            let tuner = Tuner(mode: .fast, cache: cache, machine: machine)
            XCTAssertEqual(tuner.takeWarnings().count, 1, "the warning reaches the user once")
            let chosen = tuner.choose(key, variants: ["rows", "columns"]) { $0 == "rows" ? 2.0 : 1.0 }
            XCTAssertEqual(chosen, "columns")
            let rebuilt = TuningCache(url: url)
            XCTAssertNil(rebuilt.warning, "the next save replaced the corrupt file")
            XCTAssertEqual(rebuilt.choice(key, on: machine), "columns")
        }
    }

    func testUnwritableCacheIsAWarningNotAFailure() throws {
        let url = try temporaryCache()
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)  // a folder where the file should be
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine)
        XCTAssertEqual(tuner.choose(key, variants: ["rows", "columns"]) { $0 == "rows" ? 1.0 : 2.0 }, "rows")
        XCTAssertEqual(tuner.takeWarnings().count, 1)
    }

    func testMeasuredWinnerIsRememberedAndReused() throws {
        let url = try temporaryCache()
        var measured: [String] = []
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine)
        let winner = tuner.choose(key, variants: ["rows", "columns", "serial"]) { name in
            measured.append(name)
            return ["rows": 3.0, "columns": 1.0, "serial": 2.0][name] ?? 9
        }
        XCTAssertEqual(winner, "columns")
        XCTAssertEqual(measured.filter { $0 == "serial" }.count, 1 + Tuner.fastRepeats, "a warm-up and the repeats")
        XCTAssertEqual(tuner.decisions.map(\.variant), ["columns"])
        XCTAssertEqual(tuner.decisions.first?.source, .measured)
        XCTAssertEqual(tuner.decisions.first?.seconds.map(\.variant), ["rows", "columns", "serial"])

        measured = []
        XCTAssertEqual(tuner.choose(key, variants: ["rows", "columns", "serial"]) { measured.append($0); return 0 }, "columns")
        let next = Tuner(mode: .full, cache: TuningCache(url: url), machine: machine)
        XCTAssertEqual(next.choose(key, variants: ["rows", "columns", "serial"]) { measured.append($0); return 0 }, "columns")
        XCTAssertEqual(measured, [], "a remembered choice is not measured again")
        XCTAssertEqual(next.decisions.first?.source, .cached)
        // A remembered name the choice point no longer offers is measured afresh.
        XCTAssertEqual(next.choose(key, variants: ["rows", "serial"]) { $0 == "rows" ? 2.0 : 1.0 }, "serial")
    }

    /// A warm-up round whose times are dropped, then rounds each starting one variant further
    /// on, so that no variant always runs first.
    func testMeasuringOrderIsAWarmUpRoundThenRotatedRounds() {
        XCTAssertEqual(Tuner.measuringOrder(variants: 3, rounds: 3), [0, 1, 2, 1, 2, 0, 2, 0, 1, 0, 1, 2])
        XCTAssertEqual(Tuner.measuringOrder(variants: 2, rounds: 1), [0, 1, 1, 0])
        var measured: [String] = []
        _ = Tuner(mode: .fast, machine: machine).choose(key, variants: ["a", "b", "c"]) { measured.append($0); return 1 }
        XCTAssertEqual(measured, ["a", "b", "c", "b", "c", "a", "c", "a", "b", "a", "b", "c"])
        // Short runs get more rounds, until the timed runs add up to `roundsSeconds`.
        for (seconds, rounds) in [(1e-3, 9), (1e-6, Tuner.maxRounds), (0.01, Tuner.fastRepeats)] {
            measured = []
            _ = Tuner(mode: .fast, machine: machine).choose(key, variants: ["a", "b", "c"]) { measured.append($0); return seconds }
            XCTAssertEqual(measured, Tuner.measuringOrder(variants: 3, rounds: rounds).map { ["a", "b", "c"][$0] }, "runs of \(seconds) s")
        }
        measured = []
        _ = Tuner(mode: .full, machine: machine).choose(key, variants: ["a", "b"]) { measured.append($0); return 1 }
        XCTAssertEqual(measured.count, 2 * (1 + Tuner.fullRepeats), "full: nine rounds at least")
        XCTAssertEqual(Tuner.median([3, 1, 2]), 2)
        XCTAssertEqual(Tuner.median([4, 1, 3, 2]), 2.5)
        XCTAssertEqual(Tuner.median([]), .infinity)
    }

    /// The process's first work is slow (caches, pages and threads warming up) and a burst of
    /// load comes later: the default, which runs first, must not lose because of either.
    /// Times are a stand-in: each variant's own seconds plus the load at that point of the run.
    func testSlowStartAndABurstOfLoadDoNotDecide() {
        let own = ["all": 1.0, "none": 1.01, "without-a": 1.005, "without-b": 1.02]
        func choice(own: [String: Double], load: (Int) -> Double) -> (String, TuningDecision?) {
            let tuner = Tuner(mode: .fast, machine: machine)
            var call = 0
            let winner = tuner.choose(key, variants: ["all", "none", "without-a", "without-b"]) { name in
                defer { call += 1 }
                return (own[name] ?? 9) + load(call)
            }
            return (winner, tuner.decisions.first)
        }
        // Slow for the first round and a half (one variant after another, as the old order
        // timed the first variant's runs).
        let (slowStart, decision) = choice(own: own) { $0 < 6 ? 2.0 : 0 }
        XCTAssertEqual(slowStart, "all")
        XCTAssertEqual(decision?.seconds.first?.seconds, 1.0, "the warm-up round is dropped, the median ignores one slow round")
        // A burst lasting a few measurements, whichever variants they are.
        XCTAssertEqual(choice(own: own) { (9...11).contains($0) ? 5.0 : 0 }.0, "all")
        // The measurement can still tell: a variant faster by more than the margin wins through
        // the same slow start.
        var faster = own
        faster["without-b"] = 0.8
        XCTAssertEqual(choice(own: faster) { $0 < 6 ? 2.0 : 0 }.0, "without-b")
    }

    /// `run` times variants with the tuner's clock: a variant whose first run is slow (its
    /// memory touched for the first time) is timed by its later runs.
    func testRunTimesLaterRunsWithTheTunersClock() throws {
        final class Clock: @unchecked Sendable { var now = 0.0 }
        func choice(_ own: [String: Double]) -> (winner: String, output: String) {
            let clock = Clock()
            let tuner = Tuner(mode: .fast, machine: machine, clock: { clock.now })
            var runs: [String: Int] = [:], output = ""
            let variants = own.keys.sorted().map { name in
                KernelVariant(name) {
                    clock.now += (runs[name] ?? 0) == 0 ? 100 : own[name] ?? 9
                    runs[name, default: 0] += 1
                    output = name
                }
            }
            tuner.run(key, variants)
            return (tuner.decisions.first?.variant ?? "", output)
        }
        XCTAssertEqual(choice(["a": 1.0, "b": 1.01, "c": 1.02]).winner, "a")
        XCTAssertEqual(choice(["a": 1.0, "b": 0.9, "c": 1.02]).winner, "b")
        XCTAssertEqual(choice(["a": 1.0, "b": 0.9, "c": 1.02]).output, "b", "the winner runs last")
    }

    /// The default keeps its place unless another variant is faster by more than the margin.
    /// A challenger that beat the default in the first rounds is timed against it again, in
    /// rounds of the two (the default first in every other), and kept only if it wins those by
    /// the margin too: a chance winner among equal variants (quick in the first rounds only, as
    /// the fastest of several noisy medians often is) leaves the default in place.
    func testAChallengerMustWinAgainWhenTimedAgainstTheDefault() {
        func choice(_ seconds: @escaping (String, Int) -> Double) -> (winner: String, measured: [String], decision: TuningDecision?) {
            let tuner = Tuner(mode: .fast, machine: machine)
            var measured: [String] = []
            let winner = tuner.choose(key, variants: ["a", "b", "c"]) { name in
                defer { measured.append(name) }
                return seconds(name, measured.count)
            }
            return (winner, measured, tuner.decisions.first)
        }
        // Runs of a second: no rounds past `fastRepeats`, in the first rounds or the confirmation.
        let first = Tuner.measuringOrder(variants: 3, rounds: Tuner.fastRepeats).count
        let chance = choice { name, call in name == "c" && call < first ? 0.9 : 1.0 }
        XCTAssertEqual(chance.winner, "a")
        XCTAssertEqual(chance.decision?.confirmation?.challenger, "c")
        XCTAssertEqual(chance.decision?.confirmation?.ratio, 1.0)
        XCTAssertEqual(chance.decision?.seconds.map(\.seconds), [1.0, 1.0, 0.9], "the first rounds' medians stay listed")
        XCTAssertEqual(Array(chance.measured.prefix(first)), Tuner.measuringOrder(variants: 3, rounds: Tuner.fastRepeats).map { ["a", "b", "c"][$0] })
        // Rounds of the two, as many with each first: `fastRepeats` rounded up to even.
        let confirming = Tuner.fastRepeats + Tuner.fastRepeats % 2
        XCTAssertEqual(Array(chance.measured.dropFirst(first)),
                       (0..<confirming).flatMap { Tuner.confirmingOrder($0, challenger: "c", incumbent: "a") })
        XCTAssertEqual(Tuner.confirmingOrder(0, challenger: "c", incumbent: "a"), ["a", "c"])
        XCTAssertEqual(Tuner.confirmingOrder(1, challenger: "c", incumbent: "a"), ["c", "a"])
        // Faster again, but by less than the margin: the default.
        XCTAssertEqual(choice { name, call in name == "c" ? (call < first ? 0.9 : 0.98) : 1.0 }.winner, "a")
        // Truly faster: chosen, with its ratio listed.
        let faster = choice { name, _ in name == "c" ? 0.9 : 1.0 }
        XCTAssertEqual(faster.winner, "c")
        XCTAssertEqual(faster.decision?.confirmation?.ratio ?? 0, 0.9, accuracy: 1e-12)
        XCTAssertEqual(faster.measured.count, first + 2 * confirming)
        // A default that fails loses to a challenger that runs, without a confirmation; one
        // that fails in the confirmation only loses it too.
        let failing = choice { name, _ in name == "a" ? .infinity : name == "b" ? 1.0 : 2.0 }
        XCTAssertEqual(failing.winner, "b")
        XCTAssertNil(failing.decision?.confirmation)
        XCTAssertEqual(choice { name, call in name == "a" ? (call < first ? 1.0 : .infinity) : name == "b" ? 0.5 : 2.0 }.winner, "b")
        // Equal times are a ratio of 1, zeros included (a stand-in clock).
        XCTAssertEqual(choice { name, call in name == "c" && call < first ? 0 : (call < first ? 1.0 : 0) }.winner, "a")
        // When the default wins the first rounds, nothing more is timed.
        let same = choice { _, _ in 1.0 }
        XCTAssertNil(same.decision?.confirmation)
        XCTAssertEqual(same.measured.count, first)
        // Short runs: more confirming rounds, until they add up to `roundsSeconds`.
        // (Rounds of 2.4 ms: 11 first rounds; pairs of 1.4 ms: the most rounds, made even.)
        let short = choice { name, _ in name == "b" ? 0.4e-3 : 1e-3 }
        XCTAssertEqual(short.winner, "b")
        XCTAssertEqual(short.measured.count, Tuner.measuringOrder(variants: 3, rounds: 11).count + 2 * (Tuner.maxRounds + Tuner.maxRounds % 2))
    }

    func testDefaultWinsTiesWithinTheMargin() {
        XCTAssertEqual(Tuner.winner([1.0, 0.99, 1.5]), 0)
        XCTAssertEqual(Tuner.winner([1.0, 0.9, 0.95]), 1)
        XCTAssertEqual(Tuner.winner([1.0]), 0)
    }

    /// With tuning off the default runs, always, and nothing is timed or written.
    func testOffRunsTheDefaultDeterministically() throws {
        let url = try temporaryCache()
        let tuner = Tuner(mode: .off, cache: TuningCache(url: url), machine: machine)
        var ran: [String] = []
        for _ in 0..<3 {
            tuner.run(key, [KernelVariant("rows") { ran.append("rows") }, KernelVariant("columns") { ran.append("columns") }])
            XCTAssertEqual(tuner.choose(key, variants: ["rows", "columns"]) { _ in XCTFail("measured"); return 0 }, "rows")
        }
        XCTAssertEqual(ran, ["rows", "rows", "rows"])
        XCTAssertEqual(tuner.decisions.map(\.source), [.fixed])
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
    }

    /// After timing, the output is the winner's: it runs last.
    func testRunLeavesTheWinnersResult() throws {
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: try temporaryCache()), machine: machine)
        var output = ""
        tuner.run(key, [KernelVariant("a") { output = "a" }, KernelVariant("b") { output = "b" },
                        KernelVariant("c", fullOnly: true) { output = "c" }])
        let decision = try XCTUnwrap(tuner.decisions.first)
        XCTAssertEqual(output, decision.variant)
        XCTAssertEqual(decision.seconds.map(\.variant), ["a", "b"], "full-only variants wait for --tune full")
    }

    /// The memory-bound grain: the fixed default with tuning off or one thread, else one of
    /// the candidates, remembered for the pool.
    func testMemoryBoundGrain() throws {
        XCTAssertEqual(WorkerPool(threads: 2, tuner: Tuner(mode: .off)).memoryBoundGrain, WorkerPool.memoryBoundMinimumWork)
        XCTAssertEqual(WorkerPool(threads: 1, tuner: Tuner(mode: .fast)).memoryBoundGrain, WorkerPool.memoryBoundMinimumWork)
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: try temporaryCache()), machine: machine)
        let pool = WorkerPool(threads: 2, tuner: tuner)
        let grain = pool.memoryBoundGrain
        XCTAssertTrue(WorkerPool.memoryBoundGrainCandidates.contains(grain))
        XCTAssertEqual(pool.memoryBoundGrain, grain)
        XCTAssertEqual(tuner.decisions.map(\.key.point), ["memory-bound-grain"])
        let reread = try XCTUnwrap(tuner.cache.map { TuningCache(url: $0.url) })
        XCTAssertNil(reread.warning)
        XCTAssertEqual(reread.choices(on: machine).values.map { Int($0) }, [grain])
    }
}

extension TunerTests {
    /// A file written by a graphc before the instruction set was recorded, then added to by
    /// this one: both tables survive the save, the old one still matching no machine, the new
    /// one carrying its "isa"; a third process reads both back as they were written.
    func testOldFormatTableSurvivesASaveAndTheNewOneReadsBack() throws {
        let url = try cacheFile(machineFields: "")
        XCTAssertNil(TuningCache(url: url).remember("rows", for: key, on: machine))
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertTrue(text.contains("\"isa\" : \"AVX2+FMA\"") || text.contains("\"isa\":\"AVX2+FMA\""), text)
        let reread = TuningCache(url: url)
        XCTAssertNil(reread.warning)
        XCTAssertEqual(reread.choice(key, on: machine), "rows")
        let unrecorded = MachineIdentity(cpuModel: machine.cpuModel, cores: 2, blasCore: "Haswell", kernelISA: "")
        XCTAssertEqual(reread.choice(key, on: unrecorded), "columns", "the old table is kept, apart")
        XCTAssertEqual(reread.choices(on: MachineIdentity(cpuModel: machine.cpuModel, cores: 2, blasCore: "Haswell", kernelISA: "SSE2")), [:])
    }
}

extension TunerTests {
    /// A cached winner answers a point only if it was measured against every candidate the
    /// point would measure now: a kernel added since is measured again; a choice pinned
    /// without its candidates answers as it is, as `recall` reads any; a version 1 file's
    /// choice (candidates unknown) is measured once more, then answers; `--tune full`'s wider
    /// measurement answers `fast`'s narrower one, and the file keeps what was measured.
    func testACandidateAddedSinceTheChoiceIsMeasured() throws {
        let pinned = try temporaryCache()
        XCTAssertNil(TuningCache(url: pinned).remember("columns", for: key, on: machine))
        var measured: [String] = []
        let pinning = Tuner(mode: .fast, cache: TuningCache(url: pinned), machine: machine)
        XCTAssertEqual(pinning.choose(key, variants: ["whole", "columns", "unpacked"]) { measured.append($0); return 0 }, "columns")
        XCTAssertEqual(measured, [], "a choice pinned without its candidates answers as it is")
        XCTAssertEqual(pinning.recall(key, variants: ["whole", "columns"]), "columns")

        let versionOne = try cacheFile(machineFields: "\"isa\": \"AVX2+FMA\",")
        let older = Tuner(mode: .fast, cache: TuningCache(url: versionOne), machine: machine)
        XCTAssertEqual(older.recall(key, variants: ["whole", "columns"]), "columns", "recall reads any cached choice")
        let remeasure = Tuner(mode: .fast, cache: TuningCache(url: versionOne), machine: machine)
        XCTAssertEqual(remeasure.choose(key, variants: ["whole", "columns", "unpacked"]) { measured.append($0); return $0 == "unpacked" ? 1 : 2 },
                       "unpacked")
        XCTAssertEqual(Set(measured), ["whole", "columns", "unpacked"], "a version 1 choice's candidates are unknown: measured again")
        let rewritten = TuningCache(url: versionOne).entry(key, on: machine)
        XCTAssertEqual(rewritten?.variant, "unpacked")
        XCTAssertEqual(rewritten?.among.map(Set.init), ["whole", "columns", "unpacked"])
        measured = []
        let again = Tuner(mode: .fast, cache: TuningCache(url: versionOne), machine: machine)
        XCTAssertEqual(again.choose(key, variants: ["whole", "columns", "unpacked"]) { measured.append($0); return 0 }, "unpacked")
        XCTAssertEqual(measured, [], "once measured, the winner answers")

        let url = try temporaryCache()
        let times = ["whole": 3.0, "columns": 2.0, "unpacked": 1.0]
        let first = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine)
        XCTAssertEqual(first.choose(key, variants: ["whole", "columns"]) { times[$0] ?? 9 }, "columns")
        XCTAssertEqual(TuningCache(url: url).entry(key, on: machine)?.among, ["whole", "columns"])
        let same = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine)
        XCTAssertEqual(same.choose(key, variants: ["whole", "columns"]) { measured.append($0); return 0 }, "columns")
        XCTAssertEqual(measured, [], "the same candidates: the remembered winner")
        let added = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine)
        XCTAssertEqual(added.choose(key, variants: ["whole", "columns", "unpacked"]) { measured.append($0); return times[$0] ?? 9 },
                       "unpacked")
        XCTAssertTrue(measured.contains("unpacked"), "a new candidate is measured")

        // run: `full` measures the full-only candidates too; its choice then answers `fast`.
        let full = Tuner(mode: .full, cache: TuningCache(url: url), machine: machine)
        var ran: [String] = []
        let variants = ["whole", "columns", "unpacked", "wide"].map { name in
            KernelVariant(name, fullOnly: name == "wide") { ran.append(name) }
        }
        full.run(key, variants)
        XCTAssertTrue(ran.contains("wide"), "full measures a candidate fast never did")
        XCTAssertEqual(TuningCache(url: url).entry(key, on: machine)?.among.map(Set.init), ["whole", "columns", "unpacked", "wide"])
        ran = []
        let fast = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine)
        fast.run(key, variants)
        XCTAssertEqual(ran.count, 1, "fast's candidates were all measured by full: one run of the winner")
        XCTAssertEqual(fast.decisions.first?.source, .cached)
    }
}
