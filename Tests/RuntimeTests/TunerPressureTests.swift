import Foundation
import GraphIR
@testable import Runtime
import XCTest

/// A tuner that checks the machine remembers only choices measured while it was quiet
/// (`CPUPressure`). The pressure readings are stand-ins with the times and totals a test
/// says, except in the one test that loads this machine's cores.
final class TunerPressureTests: XCTestCase {
    let machine = MachineIdentity(cpuModel: "Test CPU @ 1.00GHz", cores: 2, blasCore: "Haswell", kernelISA: "AVX2+FMA")
    let key = TuningKey(point: "gemm-split", shapes: [[168, 100], [100, 1024]], detail: "tb", threads: 2)
    let times = ["columns": 2.0, "rows": 2.1, "serial": 1.0]

    func temporaryCache() -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-pressure-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.appendingPathComponent("tuning.json")
    }

    /// Readings in turn: the first one when the tuner is made, then two for each choice
    /// measured (as it starts and as it ends).
    final class Readings: @unchecked Sendable {
        var list: [CPUPressure]
        init(_ list: [CPUPressure]) { self.list = list }
        func next() -> CPUPressure? { list.isEmpty ? nil : list.removeFirst() }
    }

    func reading(at: Double, total: Double, recent: Double = 0) -> CPUPressure {
        CPUPressure(at: at, recentShare: recent, totalSeconds: total)
    }

    func testParsesTheSomeLine() throws {
        let text = "some avg10=12.50 avg60=3.00 avg300=1.00 total=5820674741\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
        XCTAssertEqual(CPUPressure.parse(text, at: 7), CPUPressure(at: 7, recentShare: 0.125, totalSeconds: 5820.674741))
        for bad in ["", "full avg10=1.00 total=5\n", "some avg10=x total=5", "some avg10=1.00", "some avg10=-1 total=5",
                    "some avg10=nan total=5", "some avg10=1.0 total=-5", "some avg10=inf total=5", "some avg10=1e999 total=5",
                    "some avg10=1.0 total=18446744073709551616", "some avg10=1.0 total=", "some avg10 total 5", "some =1 ==",
                    "some avg10=1.0 total=5.5", "some avg10=1.0 total=0x10"] {
            XCTAssertNil(CPUPressure.parse(bad, at: 0), bad)
        }
        // The largest total the kernel could write reads, and shares from it do not trap.
        let huge = try XCTUnwrap(CPUPressure.parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551615", at: 1))
        XCTAssertEqual(huge.totalSeconds, Double(UInt64.max) * 1e-6)
        XCTAssertEqual(CPUPressure.share(from: huge, to: reading(at: 2, total: 0)), 0)
    }

    func testShareOverAWindowElseTheTenSecondAverage() {
        let start = reading(at: 10, total: 100)
        XCTAssertEqual(CPUPressure.share(from: start, to: reading(at: 10.5, total: 100.3, recent: 0.01)), 0.6, accuracy: 1e-9,
                       "a load that began half a second ago, which the ten-second average does not show yet")
        XCTAssertEqual(CPUPressure.share(from: start, to: reading(at: 10.005, total: 100.005, recent: 0.02)), 0.02,
                       "too short a window for the total: the average")
        XCTAssertEqual(CPUPressure.share(from: nil, to: reading(at: 10, total: 100, recent: 0.3)), 0.3)
        XCTAssertEqual(CPUPressure.share(from: start, to: reading(at: 11, total: 99)), 0, "a total never goes back")
    }

    /// Measured on a busy machine: the winner runs in this process, the next one measures
    /// again; measured on a quiet one: remembered. Both say how busy the machine was.
    func testABusyMachinesChoiceIsUsedButNotRemembered() {
        let url = temporaryCache()
        let busy = Readings([reading(at: 0, total: 0), reading(at: 0.5, total: 0), reading(at: 1, total: 0.5)])
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine, pressure: busy.next)
        XCTAssertEqual(tuner.choose(key, variants: ["columns", "rows", "serial"]) { times[$0] ?? 9 }, "serial")
        XCTAssertEqual(tuner.decisions.first?.source, .measuredBusy)
        XCTAssertEqual(tuner.decisions.first?.pressure ?? 0, 1, accuracy: 1e-9, "busy throughout the measurement")
        var measured: [String] = []
        XCTAssertEqual(tuner.choose(key, variants: ["columns", "rows", "serial"]) { measured.append($0); return 0 }, "serial")
        XCTAssertEqual(measured, [], "this process keeps its choice")
        XCTAssertNil(TuningCache(url: url).entry(key, on: machine), "nothing written")

        let quiet = Readings([reading(at: 5, total: 0.5), reading(at: 5.5, total: 0.5), reading(at: 6, total: 0.51)])
        let next = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine, pressure: quiet.next)
        XCTAssertEqual(next.choose(key, variants: ["columns", "rows", "serial"]) { measured.append($0); return $0 == "serial" ? 3 : 1 },
                       "columns")
        XCTAssertFalse(measured.isEmpty, "the next process measures again")
        XCTAssertEqual(next.decisions.first?.source, .measured)
        XCTAssertEqual(next.decisions.first?.pressure ?? 0, 0.02, accuracy: 1e-9)
        XCTAssertEqual(TuningCache(url: url).entry(key, on: machine)?.variant, "columns")
    }

    /// Each choice is judged over its measurement and at least the last `lookback` seconds:
    /// a load that came after a quiet start is seen, and one that has passed is not held
    /// against later choices.
    func testEachChoiceIsJudgedOverItsMeasurementAndTheLastTenthOfASecond() {
        let readings = Readings([reading(at: 0, total: 0),
                                 reading(at: 0.95, total: 0.0005), reading(at: 1.0, total: 0.001),   // a quiet second
                                 reading(at: 1.15, total: 0.121), reading(at: 1.2, total: 0.161),    // 80% busy since 1.0
                                 reading(at: 2.9, total: 0.1615), reading(at: 3.0, total: 0.162)])   // quiet in the last 0.1 s
        let tuner = Tuner(mode: .fast, machine: machine, pressure: readings.next)
        let keys = (1...3).map { TuningKey(point: "gemm-split", shapes: [[$0, 8], [8, 8]], threads: 2) }
        for k in keys { _ = tuner.choose(k, variants: ["a", "b"]) { $0 == "a" ? 1 : 2 } }
        XCTAssertEqual(tuner.decisions.map(\.source), [.measured, .measuredBusy, .measured])
        XCTAssertEqual(tuner.decisions[1].pressure ?? 0, 0.8, accuracy: 1e-9)
        XCTAssertEqual(tuner.decisions[2].pressure ?? 0, 0.005, accuracy: 1e-9)

        // A measurement longer than `lookback` is judged over all of it.
        let long = Readings([reading(at: 0, total: 0), reading(at: 1, total: 0), reading(at: 2, total: 0.3)])
        let measuringLong = Tuner(mode: .fast, machine: machine, pressure: long.next)
        _ = measuringLong.choose(key, variants: ["a", "b"]) { $0 == "a" ? 1 : 2 }
        XCTAssertEqual(measuringLong.decisions.first?.pressure ?? 0, 0.3, accuracy: 1e-9)
    }

    /// The latest reading before the last `lookback` seconds may be long before it (none is
    /// made between choices): a load that began just before a measurement, busy all through
    /// it, is not thinned out over the quiet seconds before.
    func testALoadThroughTheMeasurementIsNotThinnedOutByAnOldReading() {
        let url = temporaryCache()
        let readings = Readings([reading(at: 0, total: 0),                                    // the tuner made
                                 reading(at: 2.0, total: 0.02), reading(at: 2.06, total: 0.08)]) // a load since 1.98
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine, pressure: readings.next)
        XCTAssertEqual(tuner.choose(key, variants: ["columns", "rows", "serial"]) { times[$0] ?? 9 }, "serial")
        XCTAssertEqual(tuner.decisions.first?.source, .measuredBusy)
        XCTAssertEqual(tuner.decisions.first?.pressure ?? 0, 1, accuracy: 1e-9, "busy throughout the measurement")
        XCTAssertNil(TuningCache(url: url).entry(key, on: machine))
    }

    /// Pruning keeps the readings a window needs: the latest one before the last `lookback`
    /// seconds, here the end of the first measurement, starts the next short one's window,
    /// and shows the load that ran between the two.
    func testPruningKeepsTheReadingThatStartsTheNextWindow() {
        let readings = Readings([reading(at: 0, total: 0),
                                 reading(at: 1.2, total: 0), reading(at: 1.3, total: 0),        // a quiet measurement
                                 reading(at: 1.52, total: 0.1), reading(at: 1.55, total: 0.1)]) // busy between, quiet in a short one
        let tuner = Tuner(mode: .fast, machine: machine, pressure: readings.next)
        let keys = (1...2).map { TuningKey(point: "gemm-split", shapes: [[$0, 8], [8, 8]], threads: 2) }
        for k in keys { _ = tuner.choose(k, variants: ["a", "b"]) { $0 == "a" ? 1 : 2 } }
        XCTAssertEqual(tuner.decisions.map(\.source), [.measured, .measuredBusy])
        XCTAssertEqual(tuner.decisions[1].pressure ?? 0, 0.4, accuracy: 1e-9, "from the reading at 1.3 s")
    }

    /// More threads than cores wait by themselves: that is not taken for other work.
    func testOversubscribedKeysAreRememberedAnyway() {
        let url = temporaryCache()
        let busy = Readings([reading(at: 0, total: 0), reading(at: 0.5, total: 0), reading(at: 1, total: 0.9)])
        let wide = TuningKey(point: "gemm-split", shapes: [[168, 100], [100, 1024]], detail: "tb", threads: 4)
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine, pressure: busy.next)
        XCTAssertEqual(tuner.choose(wide, variants: ["columns", "serial"]) { times[$0] ?? 9 }, "serial")
        XCTAssertEqual(TuningCache(url: url).entry(wide, on: machine)?.variant, "serial")
    }

    /// A choice measured as part of a larger one (a layer's algorithm within a whole graph's
    /// timing) is remembered exactly when the larger one is.
    func testAPartOfABusyChoiceIsNotRemembered() {
        let url = temporaryCache()
        let busy = Readings([reading(at: 0, total: 0), reading(at: 0.5, total: 0), reading(at: 1, total: 0.5)])
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine, pressure: busy.next)
        let graphKey = TuningKey(point: "conv2d-graph", shapes: [[8]], detail: "f", threads: 2)
        let layerKey = TuningKey(point: "conv2d-in-graph", shapes: [[8, 32, 14, 14]], threads: 2)
        XCTAssertEqual(tuner.choose(graphKey, variants: ["layers", "direct"]) { $0 == "direct" ? 1 : 2 }, "direct")
        tuner.remember(layerKey, variant: "direct", partOf: graphKey)
        XCTAssertEqual(tuner.decisions.map(\.source), [.measuredBusy, .measuredBusy])
        XCTAssertEqual(tuner.recall(layerKey, variants: ["direct", "im2col"]), "direct")
        XCTAssertNil(TuningCache(url: url).entry(layerKey, on: machine))
        tuner.remember(layerKey, variant: "im2col")
        XCTAssertEqual(TuningCache(url: url).entry(layerKey, on: machine)?.variant, "im2col", "without a larger choice: remembered")
    }

    /// A layer's algorithm measured on a busy machine was still timed in this process: its
    /// close runner-up is offered for confirmation in the whole graph, as a quiet one's is
    /// (the graph's choice is judged busy or not on its own, and its parts with it).
    func testABusyLayerChoicesCloseRunnerUpIsStillOffered() {
        let layer = ConvolutionLayer(batch: 1, inChannels: 16, height: 12, width: 10, outChannels: 32, kernel: [3, 3],
                                     stride: [1, 1], padding: [1, 1], residual: false, relu: true)
        let busy = Readings([reading(at: 0, total: 0), reading(at: 0.5, total: 0), reading(at: 1, total: 0.5)])
        let tuner = Tuner(mode: .fast, machine: machine, pressure: busy.next)
        let layerKey = ConvolutionTuning.key(layer, threads: 2)
        XCTAssertEqual(tuner.choose(layerKey, variants: ["blocked", "winograd"]) { $0 == "blocked" ? 1.0 : 1.01 }, "blocked")
        XCTAssertEqual(tuner.decisions.first?.source, .measuredBusy)
        let close = ConvolutionTuning.closeRunnerUp(layer, winner: .blocked, tuner: tuner, threads: 2, margin: 0.05)
        XCTAssertEqual(close?.algorithm, .winograd)
        XCTAssertEqual(close?.seconds ?? 0, 1.0, accuracy: 1e-12)
    }

    /// A version 2 file's measured choices were perhaps made on a busy machine: each is
    /// measured once more, then remembered in a version 4 file; a pinned one answers as it is.
    func testVersionTwoChoicesAreMeasuredAgain() throws {
        let url = temporaryCache()
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let pinnedKey = TuningKey(point: "gemm-split", shapes: [[8, 8], [8, 8]], threads: 2)
        let text = """
            {"format": "graphc-tuning", "version": 2, "machines": [{"cpu": "\(machine.cpuModel)", "cores": 2, "blas": "Haswell",
             "isa": "AVX2+FMA", "choices": {"\(key.description)": "serial", "\(pinnedKey.description)": "rows"},
             "among": {"\(key.description)": ["columns", "rows", "serial"]}}]}
            """
        try Data(text.utf8).write(to: url)
        var measured: [String] = []
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine)
        XCTAssertEqual(tuner.choose(pinnedKey, variants: ["columns", "rows"]) { measured.append($0); return 0 }, "rows")
        XCTAssertEqual(measured, [], "pinned")
        XCTAssertEqual(tuner.choose(key, variants: ["columns", "rows", "serial"]) { measured.append($0); return $0 == "rows" ? 1 : 2 },
                       "rows")
        XCTAssertEqual(Set(measured), ["columns", "rows", "serial"])
        let written = try String(contentsOf: url, encoding: .utf8)
        XCTAssertTrue(written.contains("\"version\" : 4"), written)
        measured = []
        let again = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine)
        XCTAssertEqual(again.choose(key, variants: ["columns", "rows", "serial"]) { measured.append($0); return 0 }, "rows")
        XCTAssertEqual(measured, [], "a version 4 choice answers")
    }

    /// A version 3 file's convolution-algorithm choices were timed with the weights fed at every
    /// run: they are measured again (the layer's, the whole graph's and the confirmed one
    /// alike), while its other choices answer as they are.
    func testVersionThreeConvolutionChoicesAreMeasuredAgain() throws {
        let url = temporaryCache()
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let layer = ConvolutionLayer(batch: 1, inChannels: 512, height: 16, width: 16, outChannels: 512, kernel: [3, 3],
                                     stride: [1, 1], padding: [1, 1], residual: false, relu: true)
        let layerKey = ConvolutionTuning.key(layer, threads: 2)
        let inGraph = ConvolutionTuning.key(layer, threads: 2, point: "conv2d-in-graph", detail: "-gabc")
        let graphKey = TuningKey(point: "conv2d-graph", shapes: [[1]], detail: "abc-1close", threads: 2)
        let text = """
            {"format": "graphc-tuning", "version": 3, "machines": [{"cpu": "\(machine.cpuModel)", "cores": 2, "blas": "Haswell",
             "isa": "AVX2+FMA", "choices": {"\(key.description)": "serial", "\(layerKey.description)": "blocked",
             "\(inGraph.description)": "blocked", "\(graphKey.description)": "layers"},
             "among": {"\(key.description)": ["columns", "rows", "serial"], "\(layerKey.description)": ["blocked", "winograd", "im2col"],
             "\(graphKey.description)": ["layers", "flip-1"]}}]}
            """
        try Data(text.utf8).write(to: url)
        let tuner = Tuner(mode: .fast, cache: TuningCache(url: url), machine: machine)
        var measured: [String] = []
        XCTAssertEqual(tuner.choose(key, variants: ["columns", "rows", "serial"]) { measured.append($0); return 0 }, "serial")
        XCTAssertEqual(measured, [], "another point's version 3 choice answers")
        XCTAssertNil(tuner.recall(inGraph, variants: ["blocked", "winograd", "im2col"]))
        XCTAssertNil(tuner.recall(graphKey, variants: ["layers", "flip-1"]))
        XCTAssertEqual(tuner.choose(layerKey, variants: ["blocked", "winograd", "im2col"]) { measured.append($0); return $0 == "winograd" ? 1 : 2 },
                       "winograd")
        XCTAssertEqual(Set(measured), ["blocked", "winograd", "im2col"])
    }

    /// This machine's own pressure (where Linux reports it): threads spinning on three times
    /// as many as there are cores wait for them, and the total shows it.
    func testTheKernelsTotalGrowsWhileTheCoresAreOversubscribed() throws {
        guard let before = CPUPressure.now() else { throw XCTSkip("no /proc/pressure/cpu on this machine") }
        let cores = ProcessInfo.processInfo.activeProcessorCount, spin = 0.15
        // Threads of their own: a dispatch queue would run no more at once than there are cores.
        let finished = DispatchGroup()
        let threads = (0..<3 * cores).map { _ in
            finished.enter()
            return Thread {
                let start = Tuner.now()
                while Tuner.now() - start < spin {}
                finished.leave()
            }
        }
        for t in threads { t.start() }
        finished.wait()
        let after = try XCTUnwrap(CPUPressure.now())
        XCTAssertGreaterThan(after.at - before.at, spin)
        XCTAssertGreaterThan(CPUPressure.share(from: before, to: after), 0.25,
                             "\(3 * cores) spinning threads on \(cores) cores: some always wait")
    }
}
