import Foundation
import Distributed
import Frontend
import Runtime
@testable import Training
import XCTest

/// `--bench`'s record of how the machine ran each timed run (Bench.RunConditions): read from
/// /proc/stat and the process's CPU time, one per run, beside the runs' images per second.
final class BenchTests: XCTestCase {
    /// The first line's idle and iowait count as idle, the eighth field as stolen, in clock ticks.
    func testMachineTimesReadTheFirstLineOfProcStat() throws {
        let stat = "cpu  1971357 613 128587 566238 8057 0 2253 2621 0 0\ncpu0 929636 271 60316 345048 2540 0 126 1291 0 0\n"
        let t = try XCTUnwrap(Bench.MachineTimes.parse(stat, ticksPerSecond: 100))
        XCTAssertEqual(t.idle, (566238 + 8057) / 100, accuracy: 1e-9)
        XCTAssertEqual(t.stolen, 26.21, accuracy: 1e-9)
    }

    /// Text that is not /proc/stat (a kernel without steal time, another file, no clock, a
    /// counter that is not a count, which must not shift the ones after it) gives nil, never a
    /// wrong figure or a trap.
    func testMachineTimesRefuseOtherText() {
        for text in ["", "cpu 1 2 3\n", "intr 5 6 7 8 9 10 11 12\n", "cpu  a b c d e f g h\n",
                     "cpu  1 2 3 x 5 6 7 8 9 10\n", "cpu  1 2 3 4 5 6 nan 8\n", "cpu  1 2 3 -4 5 6 7 8\n"] {
            XCTAssertNil(Bench.MachineTimes.parse(text, ticksPerSecond: 100), text)
        }
        XCTAssertNil(Bench.MachineTimes.parse("cpu  1 2 3 4 5 6 7 8\n", ticksPerSecond: 0))
    }

    /// A timed run's conditions: this process's CPU time over the run's wall time. A busy loop
    /// on the calling thread used some, and no more than the machine's cores (not "at most one":
    /// the test process's other threads run meanwhile, and took 1.17 cores once); each step
    /// lasts at least 50 ms, so at most 20 steps a second.
    func testARunRecordsTheCoresThisProcessUsed() {
        var sink = 0.0
        let (rate, conditions) = Bench.imagesPerSecond(batch: 1, steps: 4, warmup: 0) {
            let end = Bench.monotonic() + 0.05
            while Bench.monotonic() < end { sink += 1 }
        }
        XCTAssertGreaterThan(sink, 0)
        XCTAssertGreaterThan(rate, 0)
        XCTAssertLessThanOrEqual(rate, 20 * 1.001)
        XCTAssertGreaterThan(conditions.process, 0, "a busy loop on this thread")
        XCTAssertLessThan(conditions.process, Double(ProcessInfo.processInfo.activeProcessorCount) + 0.1)
        if FileManager.default.fileExists(atPath: "/proc/stat") {
            XCTAssertNotNil(conditions.idle)
            XCTAssertGreaterThanOrEqual(conditions.stolen ?? -1, 0)
        }
        if FileManager.default.fileExists(atPath: "/proc/pressure/cpu") {
            XCTAssertGreaterThanOrEqual(conditions.waiting ?? -1, 0)
        }
    }

    /// A stretch of work with more spinning threads than cores: the meter sees threads
    /// waiting for a core, the spinning threads' CPU time (this thread only waits), and the
    /// stretch's own seconds. Not "every core": other work on a loaded machine (six threads
    /// spinning beside it, as the tuner's pressure test does in a parallel test run) leaves
    /// the process less than one of two cores.
    func testTheMeterSeesThreadsWaitingForCores() throws {
        guard CPUPressure.now() != nil else { throw XCTSkip("no CPU pressure on this machine") }
        let cores = ProcessInfo.processInfo.activeProcessorCount, spin = 0.2
        let meter = Bench.ConditionsMeter()
        let finished = DispatchGroup()
        let threads = (0..<3 * cores).map { _ in
            finished.enter()
            return Thread {
                let end = Bench.monotonic() + spin
                while Bench.monotonic() < end {}
                finished.leave()
            }
        }
        for t in threads { t.start() }
        finished.wait()
        let (seconds, conditions) = meter.read()
        XCTAssertGreaterThanOrEqual(seconds, spin)
        XCTAssertGreaterThan(conditions.waiting ?? 0, 0.25, "\(3 * cores) spinning threads on \(cores) cores")
        XCTAssertGreaterThan(conditions.process, 0.1, "the spinning threads' CPU time, not only this waiting thread's")
    }
}

/// `--bench` without a thread count runs on every core, as training does, whatever the
/// compilation's tuning did to OpenBLAS's thread count meanwhile (an executor with a worker
/// pool sets it to one: the convolutions' timing runs left the CNN's bench on one thread).
final class BenchThreadsTests: XCTestCase {
    func testTheDefaultThreadCountIsReadBeforeTuning() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("tiny.swiftgraph")
        try Data("""
            let image = input("image", [batch, 1, 12, 12])
            let label = input("label", [batch], .int64)
            let net = Sequential {
                Conv2d(16, kernel: 3, stride: 1, padding: .same)
                ReLU()
                Conv2d(16, kernel: 3, stride: 1, padding: .same)
                ReLU()
                Flatten()
                Linear(10)
                LogSoftmax()
            }
            let logProbs = net(image)
            output("logProbs", logProbs)
            loss(nllLoss(logProbs, label))
            train(on: .fashionMNIST, metric: .accuracy, epochs: 1, batchSize: 4, lr: 0.01, optimizer: .sgd, weightDecay: 0, seed: 1)

            """.utf8).write(to: model)
        try XCTSkipIf(BLASInfo.defaultThreads < 2, "one core: one thread either way")
        let before = Tuner.shared, blasThreads = BLASInfo.threads
        defer { Tuner.shared = before; BLASInfo.setThreads(blasThreads) }
        Tuner.shared = Tuner(mode: .fast, cache: TuningCache(url: dir.appendingPathComponent("tuning.json")))
        BLASInfo.setThreads(BLASInfo.defaultThreads)
        let report = try Bench.run(file: model.path, settings: Bench.Settings(batches: [4], evalBatch: 16, repeats: 1, seconds: 0.01))
        XCTAssertEqual(report.threads["4"], BLASInfo.defaultThreads, "the cores OpenBLAS found, as training uses")
        XCTAssertEqual(report.eval_threads, BLASInfo.defaultThreads)
        // The compilation's timing ran executors with pools, which set OpenBLAS to one thread;
        // a recipe made now still defaults to every core.
        let recipe = try Recipe(graph: ModelLoading.load(model.path, options: FrontendOptions(mode: .train)))
        XCTAssertEqual(recipe.threads, BLASInfo.defaultThreads)
    }
}

/// Fused against unfused in one process (`--bench-pairs`): the runs alternate which goes first,
/// each pair's ratio is of its own two runs, and a report holds a pair set per measurement.
final class BenchPairsTests: XCTestCase {
    /// Two "variants" whose steps only log their name: after a probe of one step each, each
    /// pair runs three steps of one, then three of the other (runs too short for more), the
    /// first of the pair alternating; the ratios are the pairs' own.
    func testPairsAlternateAndTheirRatiosAreTheirOwn() throws {
        var log = ""
        let p = try Bench.pairedRuns(batch: 1, pairs: 4, seconds: 1e-12, probeSteps: 1, warmup: 0, minimum: 3,
                                     { log.append("F") }, { log.append("U") })
        XCTAssertEqual(log, "F" + "U" + "FFFUUU" + "UUUFFF" + "FFFUUU" + "UUUFFF")
        XCTAssertEqual(p.fused.runs.count, 4)
        XCTAssertEqual(p.unfused.runs.count, 4)
        for i in 0..<4 { XCTAssertEqual(p.ratio.runs[i], p.fused.runs[i] / p.unfused.runs[i], accuracy: 1e-12) }
    }

    func testAReportHoldsPairsForEachMeasurement() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-pairs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("tiny.swiftgraph")
        try Data("""
            let image = input("image", [batch, 1, 8, 8])
            let label = input("label", [batch], .int64)
            let net = Sequential { Conv2d(4, kernel: 3, stride: 1, padding: .same); ReLU(); Flatten(); Linear(10); LogSoftmax() }
            let logProbs = net(image)
            output("logProbs", logProbs)
            loss(nllLoss(logProbs, label))
            train(on: .fashionMNIST, metric: .accuracy, epochs: 1, batchSize: 4, lr: 0.01, optimizer: .sgd, weightDecay: 0, seed: 1)

            """.utf8).write(to: model)
        let before = Tuner.shared
        defer { Tuner.shared = before }
        Tuner.shared = Tuner(mode: .off)
        var settings = Bench.Settings(batches: [2, 4], evalBatch: 8, repeats: 1, seconds: 0.005)
        settings.unfusedPairs = 3
        let report = try Bench.run(file: model.path, overrides: RecipeOverrides(threads: 1), settings: settings)
        XCTAssertEqual(Set(report.unfused_pairs.keys), ["train_2", "train_4", "eval_8"])
        for (key, pairs) in report.unfused_pairs {
            XCTAssertEqual(pairs.ratio.runs.count, 3, key)
            XCTAssertTrue(pairs.fused.runs.allSatisfy { $0 > 0 } && pairs.unfused.runs.allSatisfy { $0 > 0 }, key)
        }
        // Without pairs, none; with the measured model unfused, refused.
        settings.unfusedPairs = 0
        XCTAssertTrue(try Bench.run(file: model.path, overrides: RecipeOverrides(threads: 1), settings: settings).unfused_pairs.isEmpty)
        settings.unfusedPairs = 2
        settings.memoryPlan = false
        XCTAssertThrowsError(try Bench.run(file: model.path, overrides: RecipeOverrides(threads: 1), settings: settings))
    }
}

/// A data-parallel job's processes on one host share its cores by default: each of two ranks
/// on two cores taking both ran four kernel threads on two.
final class ThreadsPerProcessTests: XCTestCase {
    func testRanksOnOneHostShareItsCores() {
        XCTAssertEqual(World.threadsPerProcess(cores: 8, environment: [:]), 8, "no job: every core")
        let openMPI = ["OMPI_COMM_WORLD_SIZE": "4", "OMPI_COMM_WORLD_LOCAL_SIZE": "2"]
        XCTAssertEqual(World.threadsPerProcess(cores: 8, environment: openMPI), 4)
        XCTAssertEqual(World.threadsPerProcess(cores: 2, environment: ["PMIX_SIZE": "2", "PMIX_LOCAL_SIZE": "2"]), 1)
        XCTAssertEqual(World.threadsPerProcess(cores: 2, environment: ["OMPI_COMM_WORLD_SIZE": "8", "OMPI_COMM_WORLD_LOCAL_SIZE": "8"]), 1,
                       "more ranks than cores: one each")
        // One rank per host (two hosts), a job of one, a size that is not a count: every core.
        XCTAssertEqual(World.threadsPerProcess(cores: 2, environment: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_LOCAL_SIZE": "1"]), 2)
        XCTAssertEqual(World.threadsPerProcess(cores: 2, environment: ["OMPI_COMM_WORLD_SIZE": "1", "OMPI_COMM_WORLD_LOCAL_SIZE": "1"]), 2)
        XCTAssertEqual(World.threadsPerProcess(cores: 2, environment: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_LOCAL_SIZE": "x"]), 2)
        XCTAssertEqual(World.threadsPerProcess(cores: 2, environment: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_LOCAL_SIZE": "0"]), 2)
    }
}
