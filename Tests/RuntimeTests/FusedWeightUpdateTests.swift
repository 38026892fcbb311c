import Foundation
import Frontend
import GraphIR
import Passes
@testable import Runtime
import XCTest

/// The SGD step fused into the weight gradient's product (`FusedWeightUpdate`): the same loss
/// trajectory and weights as the separate update within float tolerance, at one and two
/// threads and with the GEMM split tuned; off whenever a condition fails; a non-finite loss
/// leaves the weights as they were.
final class FusedWeightUpdateTests: XCTestCase {
    let source = """
    let x = input("x", [batch, 40])
    let y = input("y", [batch], .int64)
    let net = Sequential { Linear(96); ReLU(); Linear(64); ReLU(); Linear(3); LogSoftmax() }
    let logp = net(x)
    output("logp", logp)
    loss(nllLoss(logp, y))
    """

    func trainingGraph(fusion: Bool) throws -> Graph {
        let g = try Frontend.lower(source: source, file: "t.swiftgraph")
        return try Pipelines.compileForTraining(g, .checked(fusion: fusion)).training
    }

    /// A learnable problem: the class is the argmax of the first three features.
    func batch(_ step: Int, rows: Int = 16, poison: Bool = false) -> [String: HostTensor] {
        let r = RandomSource(seed: UInt64(step))
        var xs: [Float] = [], ys: [Int64] = []
        for _ in 0..<rows {
            let row = (0..<40).map { _ in r.nextNormal() }
            xs += row
            ys.append(Int64(row[0..<3].indices.max { row[$0] < row[$1] } ?? 0))
        }
        if poison { xs[5] = .nan }
        return ["x": HostTensor(shape: [rows, 40], floats: xs), "y": HostTensor(shape: [rows], ints: ys)]
    }

    func makeTrainer(_ g: Graph, optimizer: Optimizer, threads: Int, tuner: Tuner = Tuner(mode: .off), fuses: Bool,
                     clip: Float? = nil) throws -> (Trainer, ParameterStore) {
        let store = ParameterStore()
        try store.initialise(from: g, seed: 7)
        let trainer = try Trainer(graph: g, parameters: store, optimizer: optimizer, gradClip: clip,
                                  options: ExecutionOptions(training: true, seed: 7, threads: threads, tuner: tuner))
        trainer.fusesUpdates = fuses
        return (trainer, store)
    }

    func weights(_ store: ParameterStore) -> [Float] { store.names.sorted().flatMap { store.get($0)?.floats ?? [] } }

    func assertClose(_ a: [Float], _ b: [Float], _ what: String, tolerance: Float = 1e-4) {
        XCTAssertEqual(a.count, b.count, what)
        var worst: Float = 0
        for (x, y) in zip(a, b) { worst = max(worst, abs(x - y) / max(1, abs(y))) }
        XCTAssertLessThan(worst, tolerance, what)
    }

    func testFusedStepFollowsTheSeparateUpdate() throws {
        for fusion in [false, true] {
            let g = try trainingGraph(fusion: fusion)
            for (threads, tuned) in [(1, false), (2, false), (2, true)] {
                let (plain, plainStore) = try makeTrainer(g, optimizer: SGD(learningRate: 0.05), threads: threads, fuses: false)
                let tuner = tuned ? Tuner(mode: .fast) : Tuner(mode: .off)
                let (fused, fusedStore) = try makeTrainer(g, optimizer: SGD(learningRate: 0.05), threads: threads, tuner: tuner, fuses: true)
                var plainLosses: [Float] = [], fusedLosses: [Float] = []
                for s in 0..<40 {
                    // A smaller last batch on the way (another plan) and a learning-rate change.
                    // A smaller batch, and one too large for the input gradient to run with the update.
                    let rows = s == 25 ? 5 : s == 26 ? 40 : 16
                    if s == 30 { plain.optimizer.learningRate = 0.02; fused.optimizer.learningRate = 0.02 }
                    plainLosses.append(try plain.step(feeds: batch(s, rows: rows)))
                    fusedLosses.append(try fused.step(feeds: batch(s, rows: rows)))
                    if s > 0 { XCTAssertEqual(fused.fusedUpdateParameters.count, 3, "fusion \(fusion), step \(s)") }
                    if s == 26 { XCTAssertEqual(fused.fusedUpdateSummary?.contains("with the input gradient"), false) }
                    XCTAssertTrue(plain.fusedUpdateParameters.isEmpty)
                }
                let what = "fusion \(fusion), \(threads) threads, tuned \(tuned)"
                assertClose(fusedLosses, plainLosses, what)
                assertClose(weights(fusedStore), weights(plainStore), what)
                // The steps moved the weights (the comparison above is not between two idle runs).
                let initial = ParameterStore()
                try initial.initialise(from: g, seed: 7)
                let moved = zip(weights(fusedStore), weights(initial)).map { abs($0 - $1) }.max() ?? 0
                XCTAssertGreaterThan(moved, 1e-2, what)
                // The hidden layers' input gradients run with their weights' updates.
                XCTAssertTrue(fused.fusedUpdateSummary?.contains("with the input gradient") == true, fused.fusedUpdateSummary ?? "none")
            }
        }
    }

    func testOffWhenAConditionFails() throws {
        let g = try trainingGraph(fusion: true)
        let cases: [(String, Optimizer, Float?, Bool)] = [
            ("momentum", SGD(learningRate: 0.05, momentum: 0.9), nil, false),
            ("weight decay", SGD(learningRate: 0.05, weightDecay: 0.01), nil, false),
            ("Adam", Adam(learningRate: 0.01), nil, false),
            ("clip", SGD(learningRate: 0.05), 1, false),
            ("numerics checks", SGD(learningRate: 0.05), nil, true)]
        for (what, optimizer, clip, checks) in cases {
            let (trainer, _) = try makeTrainer(g, optimizer: optimizer, threads: 2, fuses: true, clip: clip)
            trainer.executor.checksNumerics = checks
            for s in 0..<3 { try trainer.step(feeds: batch(s)) }
            XCTAssertTrue(trainer.fusedUpdateParameters.isEmpty, what)
            XCTAssertNil(trainer.fusedUpdateSummary, what)
        }
        // And back on once the condition holds again.
        let (trainer, _) = try makeTrainer(g, optimizer: SGD(learningRate: 0.05), threads: 2, fuses: true, clip: 1)
        for s in 0..<2 { try trainer.step(feeds: batch(s)) }
        XCTAssertTrue(trainer.fusedUpdateParameters.isEmpty)
        trainer.gradClip = nil
        try trainer.step(feeds: batch(2))
        XCTAssertEqual(trainer.fusedUpdateParameters.count, 3)
    }

    func testNonFiniteLossLeavesTheWeightsAsTheyWere() throws {
        let g = try trainingGraph(fusion: true)
        let (trainer, store) = try makeTrainer(g, optimizer: SGD(learningRate: 0.05), threads: 2, fuses: true)
        for s in 0..<3 { try trainer.step(feeds: batch(s)) }
        XCTAssertEqual(trainer.fusedUpdateParameters.count, 3)
        let before = weights(store)
        XCTAssertThrowsError(try trainer.step(feeds: batch(3, poison: true))) { XCTAssertTrue($0 is NonFiniteLoss, "\($0)") }
        XCTAssertEqual(weights(store).map(\.bitPattern), before.map(\.bitPattern))
    }

    func testOtherRunsOfTheExecutorComputePlainGradients() throws {
        let g = try trainingGraph(fusion: true)
        let (trainer, store) = try makeTrainer(g, optimizer: SGD(learningRate: 0.05), threads: 2, fuses: true)
        for s in 0..<3 { try trainer.step(feeds: batch(s)) }
        XCTAssertEqual(trainer.fusedUpdateParameters.count, 3)
        let before = weights(store)
        let outputs = try trainer.executor.run(feeds: batch(4), parameters: store)
        XCTAssertEqual(weights(store).map(\.bitPattern), before.map(\.bitPattern))
        let fresh = try Executor(graph: g, options: ExecutionOptions(training: true, seed: 7, threads: 2, tuner: Tuner(mode: .off)))
        let expected = try fresh.run(feeds: batch(4), parameters: store)
        for name in trainer.fusedUpdateParameters {
            let key = GradientOutput.name(forParameter: name)
            XCTAssertNotNil(outputs[key])
            XCTAssertEqual(outputs[key]?.floats, expected[key]?.floats, name)
        }
    }

    /// The fused product against a naive W - lr * aᵀb in Double, for both layouts of b and a
    /// product small enough to stay serial.
    func testFusedProductIsTheNaiveUpdate() {
        let data = TestData(seed: 91)
        for (k, m, n, tb) in [(8, 60, 50, false), (8, 60, 50, true), (3, 4, 5, false), (64, 70, 90, true)] {
            let a = data.floats([k, m]), b = data.floats(tb ? [n, k] : [k, n]), w0 = data.floats([m, n])
            var w = w0.floats
            let out = UnsafeMutableRawPointer.allocate(byteCount: m * n * 4, alignment: 64)
            defer { out.deallocate() }
            a.floats.withUnsafeBufferPointer { ap in
                b.floats.withUnsafeBufferPointer { bp in
                    let c = KernelContext(inputs: [TensorView(data: UnsafeMutableRawPointer(mutating: ap.baseAddress!), shape: [k, m], dtype: .f32),
                                                   TensorView(data: UnsafeMutableRawPointer(mutating: bp.baseAddress!), shape: b.shape, dtype: .f32)],
                                          output: TensorView(data: out, shape: [m, n], dtype: .f32),
                                          attributes: ["transpose_a": .bool(true), "transpose_b": .bool(tb)],
                                          workspace: Workspace(), random: RandomSource(seed: 1),
                                          pool: WorkerPool(threads: 2, tuner: Tuner(mode: .off)))
                    w.withUnsafeMutableBufferPointer { wp in
                        XCTAssertTrue(FusedWeightUpdate.step(c, weight: wp.baseAddress!, count: m * n, learningRate: 0.3))
                    }
                }
            }
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k { s += Double(a.floats[p * m + i]) * Double(tb ? b.floats[j * k + p] : b.floats[p * n + j]) }
                    XCTAssertEqual(Double(w[i * n + j]), Double(w0.floats[i * n + j]) - 0.3 * s, accuracy: 1e-4, "\(k)x\(m)x\(n) tb \(tb)")
                }
            }
        }
    }
}

extension FusedWeightUpdateTests {
    /// dx = dy·W and W - lr·dyᵀx together, against naive Double sums, with more columns than
    /// one block and a partial last block, at 1 and 2 threads, walking W's columns (1 part)
    /// or its rows in 2 or 3 slices (uneven ones too), and with fewer rows of W than slices.
    func testInputGradientWithTheUpdateIsTheNaiveProducts() {
        let data = TestData(seed: 92)
        for (rows, out, inn, threads, parts) in [(8, 40, 300, 1, 1), (8, 40, 300, 2, 1), (3, 600, 70, 2, 1), (8, 40, 300, 2, 2),
                                                 (3, 601, 70, 2, 2), (5, 41, 130, 2, 3), (16, 2, 50, 2, 3)] {
            let dy = data.floats([rows, out]), x = data.floats([rows, inn]), w0 = data.floats([out, inn])
            var w = w0.floats, dyv = dy.floats, xv = x.floats
            var dx = [Float](repeating: .nan, count: rows * inn), grad = [Float](repeating: 0, count: out * inn)
            let pool = WorkerPool(threads: threads, tuner: Tuner(mode: .off))
            func view(_ p: UnsafeMutableBufferPointer<Float>, _ shape: [Int]) -> TensorView {
                TensorView(data: UnsafeMutableRawPointer(p.baseAddress!), shape: shape, dtype: .f32)
            }
            let ok = w.withUnsafeMutableBufferPointer { wp in
                dyv.withUnsafeMutableBufferPointer { dyp in
                    xv.withUnsafeMutableBufferPointer { xp in
                        dx.withUnsafeMutableBufferPointer { dxp in
                            grad.withUnsafeMutableBufferPointer { gp in
                                let dxc = KernelContext(inputs: [view(dyp, [rows, out]), view(wp, [out, inn])], output: view(dxp, [rows, inn]),
                                                        attributes: [:], workspace: Workspace(), random: RandomSource(seed: 1), pool: pool)
                                let dwc = KernelContext(inputs: [view(dyp, [rows, out]), view(xp, [rows, inn])], output: view(gp, [out, inn]),
                                                        attributes: ["transpose_a": .bool(true)], workspace: Workspace(), random: RandomSource(seed: 1), pool: pool)
                                return FusedWeightUpdate.step(dwc, inputGradient: dxc, weight: wp.baseAddress!, count: out * inn, learningRate: 0.25,
                                                              parts: parts)
                            }
                        }
                    }
                }
            }
            XCTAssertTrue(ok)
            for r in 0..<rows {
                for j in 0..<inn {
                    var s = 0.0
                    for o in 0..<out { s += Double(dy.floats[r * out + o]) * Double(w0.floats[o * inn + j]) }
                    XCTAssertEqual(Double(dx[r * inn + j]), s, accuracy: 1e-4 * max(1, abs(s)), "dx \(rows)x\(out)x\(inn) in \(parts)")
                }
            }
            for o in 0..<out {
                for j in 0..<inn {
                    var s = 0.0
                    for r in 0..<rows { s += Double(dy.floats[r * out + o]) * Double(x.floats[r * inn + j]) }
                    XCTAssertEqual(Double(w[o * inn + j]), Double(w0.floats[o * inn + j]) - 0.25 * s, accuracy: 1e-4, "w \(rows)x\(out)x\(inn) in \(parts)")
                }
            }
        }
    }
}

extension FusedWeightUpdateTests {
    /// The input gradient runs with the update in as many slices of W's rows as dy·W's own
    /// choice says (`k-split-N`), else in column blocks: with tuning off, with no choice yet,
    /// with another choice, on one thread.
    func testInputGradientSplitsAsItsProductsChoiceSays() {
        let (rows, out, inn) = (8, 600, 1152)
        // Only the shapes and the pool are read.
        let memory = UnsafeMutableRawPointer.allocate(byteCount: 4, alignment: 64)
        defer { memory.deallocate() }
        func parts(_ tuner: Tuner, threads: Int = 2, choice: String? = nil) -> Int {
            if let choice { tuner.use(thinMatmulKey(m: rows, n: inn, k: out, transB: false, threads: threads), variant: choice) }
            let c = KernelContext(inputs: [TensorView(data: memory, shape: [rows, out], dtype: .f32), TensorView(data: memory, shape: [out, inn], dtype: .f32)],
                                  output: TensorView(data: memory, shape: [rows, inn], dtype: .f32), attributes: [:], workspace: Workspace(),
                                  random: RandomSource(seed: 1), pool: WorkerPool(threads: threads, tuner: tuner))
            return FusedWeightUpdate.inputGradientParts(c)
        }
        XCTAssertEqual(parts(Tuner(mode: .fast), choice: "k-split-2"), 2)
        XCTAssertEqual(parts(Tuner(mode: .fast), choice: "unpacked"), 1)
        XCTAssertEqual(parts(Tuner(mode: .fast)), 1)
        XCTAssertEqual(parts(Tuner(mode: .off), choice: "k-split-2"), 1)
        XCTAssertEqual(parts(Tuner(mode: .fast), threads: 1, choice: "k-split-2"), 1)
    }
}

extension FusedWeightUpdateTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The Q2 CNN (graphs/cnn.swiftgraph, fused as `--train` compiles it, with dropout): ten
    /// SGD steps at batch 8 both ways give the same losses and weights within float tolerance.
    func testQ2CNNTrainsAlikeFusedAndUnfused() throws {
        let url = Self.repository.appendingPathComponent("graphs/cnn.swiftgraph")
        let lowered = try Frontend.lower(source: String(contentsOf: url, encoding: .utf8), file: url.path)
        let g = try Pipelines.compileForTraining(lowered, .checked(fusion: true)).training
        let (plain, plainStore) = try makeTrainer(g, optimizer: SGD(learningRate: 0.01), threads: 2, fuses: false)
        let (fused, fusedStore) = try makeTrainer(g, optimizer: SGD(learningRate: 0.01), threads: 2, fuses: true)
        let random = RandomSource(seed: 3)
        var plainLosses: [Float] = [], fusedLosses: [Float] = []
        for _ in 0..<10 {
            let feeds = ["image": HostTensor(shape: [8, 1, 28, 28], floats: (0..<(8 * 784)).map { _ in random.nextFloat() }),
                         "label": HostTensor(shape: [8], ints: (0..<8).map { _ in Int64(random.nextInt(below: 10)) })]
            plainLosses.append(try plain.step(feeds: feeds))
            fusedLosses.append(try fused.step(feeds: feeds))
        }
        XCTAssertEqual(Set(fused.fusedUpdateParameters), ["head.1.weight", "head.4.weight", "head.6.weight"])
        assertClose(fusedLosses, plainLosses, "CNN losses")
        assertClose(weights(fusedStore), weights(plainStore), "CNN weights")
    }
}
