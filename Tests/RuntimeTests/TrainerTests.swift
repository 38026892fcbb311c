import Frontend
import GraphIR
import Passes
import Runtime
import XCTest

/// The Trainer end to end on a small model with dropout: it learns, and the same seed gives
/// the same numbers run after run.
final class TrainerTests: XCTestCase {
    let source = """
    let x = input("x", [batch, 6])
    let y = input("y", [batch], .int64)
    let net = Sequential { Linear(16); ReLU(); Dropout(0.2); Linear(3); LogSoftmax() }
    let logp = net(x)
    output("logp", logp)
    loss(nllLoss(logp, y))
    """

    func trainingGraph() throws -> Graph {
        let g = try Frontend.lower(source: source, file: "t.swiftgraph")
        return try Pipelines.compileForTraining(g, .checked(fusion: false)).training
    }

    /// A fixed, learnable problem: the class is the argmax of the first three features.
    func batch(_ step: Int) -> [String: HostTensor] {
        let r = RandomSource(seed: UInt64(step))
        var xs: [Float] = [], ys: [Int64] = []
        for _ in 0..<8 {
            let row = (0..<6).map { _ in r.nextNormal() }
            xs += row
            ys.append(Int64(row[0..<3].indices.max { row[$0] < row[$1] } ?? 0))
        }
        return ["x": HostTensor(shape: [8, 6], floats: xs), "y": HostTensor(shape: [8], ints: ys)]
    }

    func train(seed: UInt64, optimizer: Optimizer, steps: Int) throws -> (losses: [Float], weights: [Float]) {
        let g = try trainingGraph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: seed)
        let trainer = try Trainer(graph: g, parameters: store, optimizer: optimizer, gradClip: 5,
                                  options: ExecutionOptions(training: true, seed: seed, threads: 1))
        var losses: [Float] = []
        for s in 0..<steps { losses.append(try trainer.step(feeds: batch(s % 20))) }
        return (losses, store.names.flatMap { store.get($0)?.floats ?? [] })
    }

    func testSameSeedSameNumbersAndDifferentSeedDifferentNumbers() throws {
        let a = try train(seed: 42, optimizer: SGD(learningRate: 0.1, momentum: 0.9), steps: 30)
        let b = try train(seed: 42, optimizer: SGD(learningRate: 0.1, momentum: 0.9), steps: 30)
        XCTAssertEqual(a.losses, b.losses)
        XCTAssertEqual(a.weights, b.weights)
        let c = try train(seed: 43, optimizer: SGD(learningRate: 0.1, momentum: 0.9), steps: 30)
        XCTAssertNotEqual(a.weights, c.weights)
    }

    func testLossFallsWithSGDAndAdam() throws {
        for opt in [SGD(learningRate: 0.1, momentum: 0.9) as Optimizer, Adam(learningRate: 0.01)] {
            let run = try train(seed: 1, optimizer: opt, steps: 200)
            let first = run.losses.prefix(20).reduce(0, +) / 20, last = run.losses.suffix(20).reduce(0, +) / 20
            XCTAssertLessThan(last, first * 0.6, "\(type(of: opt)): \(first) -> \(last)")
        }
    }

    /// With the executor timing (`--profile`), each step is counted by phase: the kernels
    /// are part of the run, the feeds made through `timingData` count as data; untimed
    /// steps count nothing.
    func testTimedStepsAreCountedByPhase() throws {
        let g = try trainingGraph()
        let store = ParameterStore()
        try store.initialise(from: g, seed: 3)
        let trainer = try Trainer(graph: g, parameters: store, optimizer: Adam(learningRate: 0.01), gradClip: 1,
                                  options: ExecutionOptions(training: true, seed: 3, threads: 2))
        try trainer.step(feeds: trainer.timingData { batch(0) })
        XCTAssertEqual(trainer.phaseTimes.steps, 0)
        XCTAssertEqual(trainer.phaseTimes.data, 0)
        trainer.executor.measuresTime = true
        for s in 1...3 { try trainer.step(feeds: trainer.timingData { batch(s) }) }
        let p = trainer.phaseTimes
        XCTAssertEqual(p.steps, 3)
        XCTAssertGreaterThan(p.kernels, 0)
        XCTAssertEqual(p.kernels, trainer.executor.nodeSeconds.reduce(0, +), accuracy: 1e-12)
        XCTAssertGreaterThanOrEqual(p.run, p.kernels)
        XCTAssertEqual(p.executorOverhead, p.run - p.kernels, accuracy: 1e-12)
        XCTAssertGreaterThan(p.update, 0)
        XCTAssertGreaterThan(p.data, 0)
        trainer.resetPhaseTimes()
        XCTAssertEqual(trainer.phaseTimes.steps, 0)
    }

    /// Feeds written into the executor's memory train as the same tensors do, and with the
    /// executor timing, their writing counts as the step's data time, not the run's.
    func testWrittenFeedsTrainAsTensorsAndCountAsData() throws {
        let g = try trainingGraph()
        func trainer() throws -> Trainer {
            let store = ParameterStore()
            try store.initialise(from: g, seed: 5)
            return try Trainer(graph: g, parameters: store, optimizer: Adam(learningRate: 0.01), gradClip: 1,
                               options: ExecutionOptions(training: true, seed: 5, threads: 2))
        }
        let byTensor = try trainer(), byWriter = try trainer()
        byWriter.executor.measuresTime = true
        var writes = 0
        for s in 0..<4 {
            let feeds = batch(s)
            let x = try XCTUnwrap(feeds["x"]).floats
            let written = FeedWriter(shape: [8, 6]) { p, _ in
                writes += 1
                x.withUnsafeBytes { if let b = $0.baseAddress { p.copyMemory(from: b, byteCount: $0.count) } }
            }
            XCTAssertEqual(try byWriter.step(feeds: ["y": try XCTUnwrap(feeds["y"])], writing: ["x": written]),
                           try byTensor.step(feeds: feeds), "step \(s)")
        }
        XCTAssertEqual(writes, 4)
        XCTAssertEqual(byWriter.parameters.names.map { byWriter.parameters.get($0) }, byTensor.parameters.names.map { byTensor.parameters.get($0) })
        XCTAssertGreaterThan(byWriter.phaseTimes.data, 0, "no timingData: the writers' time alone")
        XCTAssertGreaterThanOrEqual(byWriter.phaseTimes.run, byWriter.phaseTimes.kernels)
    }

    func testTrainerRejectsAGraphWithoutGradients() throws {
        let g = try Frontend.lower(source: source, file: "t.swiftgraph")
        XCTAssertThrowsError(try Trainer(graph: g, parameters: ParameterStore(), optimizer: SGD(learningRate: 0.1), options: ExecutionOptions())) {
            XCTAssertTrue(String(describing: $0).contains("no gradient outputs"), "\($0)")
        }
    }
}

extension TrainerTests {
    /// A step whose feed writer throws after writing part of its input changes nothing: with
    /// SGD's update fused into the run and with clipped Adam, timed or not, the trainer then
    /// trains as one that never saw the failed step (the same losses and weights, bit for bit).
    func testAStepWhoseWriterThrowsLeavesTheTrainerAsItWas() throws {
        let g = try trainingGraph()
        struct Broken: Error {}
        let cases: [(name: String, optimizer: () -> Optimizer, clip: Float?, timed: Bool)] =
            [("SGD", { SGD(learningRate: 0.1) }, nil, false), ("Adam", { Adam(learningRate: 0.01) }, 1, true)]
        for (name, optimizer, clip, timed) in cases {
            func trainer() throws -> Trainer {
                let store = ParameterStore()
                try store.initialise(from: g, seed: 6)
                let t = try Trainer(graph: g, parameters: store, optimizer: optimizer(), gradClip: clip,
                                    options: ExecutionOptions(training: true, seed: 6, threads: 2))
                t.executor.measuresTime = timed
                return t
            }
            let clean = try trainer(), failing = try trainer()
            for s in 0..<3 {
                let feeds = batch(s)
                if s == 1 {
                    let halfway = FeedWriter(shape: [8, 6]) { p, _ in
                        p.initializeMemory(as: Float.self, repeating: .nan, count: 20)
                        throw Broken()
                    }
                    XCTAssertThrowsError(try failing.step(feeds: ["y": try XCTUnwrap(feeds["y"])], writing: ["x": halfway])) {
                        XCTAssertTrue($0 is Broken, "\($0)")
                    }
                }
                XCTAssertEqual(try failing.step(feeds: feeds).bitPattern, try clean.step(feeds: feeds).bitPattern, "\(name) step \(s)")
            }
            XCTAssertEqual(failing.parameters.names.map { failing.parameters.get($0) }, clean.parameters.names.map { clean.parameters.get($0) })
            if timed { XCTAssertEqual(failing.phaseTimes.steps, clean.phaseTimes.steps, "the failed step is not counted") }
        }
    }
}
