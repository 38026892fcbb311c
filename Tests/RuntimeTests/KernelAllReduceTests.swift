import Foundation
import Frontend
import GraphIR
import Passes
@testable import Runtime
import XCTest

/// A job of several threads in one process: each thread is a rank. `start` adds the bucket
/// to its round; the last rank to arrive sums the round's buckets in rank order and writes
/// the sum into each of them; `wait` returns once the round the calling thread joined is done.
final class ThreadRanksExchange: GradientCommunicator, @unchecked Sendable {
    var share: Float
    let ranks: Int
    private let condition = NSCondition()
    private var rounds: [Int: [(rank: Int, data: UnsafeMutablePointer<Float>, count: Int)]] = [:]
    private var finished: [Int: Int] = [:]
    private var joined: [String: Int] = [:]

    init(ranks: Int) { self.ranks = ranks; share = 1 / Float(ranks) }

    /// The calling thread's rank, which each rank's thread sets first.
    private var rank: Int { Thread.current.threadDictionary["rank"] as? Int ?? -1 }

    func start(bucket: Int, data: UnsafeMutablePointer<Float>, count: Int) {
        condition.lock()
        defer { condition.unlock() }
        rounds[bucket, default: []].append((rank, data, count))
        joined["\(rank)/\(bucket)"] = finished[bucket, default: 0] + 1
        guard let round = rounds[bucket], round.count == ranks else { return }
        let ordered = round.sorted { $0.rank < $1.rank }
        for i in 0..<count {
            var s: Float = 0
            for r in ordered { s += r.data[i] }
            for r in ordered { r.data[i] = s }
        }
        rounds[bucket] = nil
        finished[bucket, default: 0] += 1
        condition.broadcast()
    }

    func wait(bucket: Int) {
        condition.lock()
        defer { condition.unlock() }
        let round = joined["\(rank)/\(bucket)"] ?? 0
        while finished[bucket, default: 0] < round { condition.wait() }
    }
}

/// Records what the kernels hand over and adds another process's contribution.
final class RecordingExchange: GradientCommunicator {
    var share: Float = 0.25
    var remote: [Float] = []
    var started: [(bucket: Int, count: Int)] = []
    var waited: [Int] = []
    func start(bucket: Int, data: UnsafeMutablePointer<Float>, count: Int) {
        started.append((bucket, count))
        for i in 0..<count { data[i] += remote[i] }
    }
    func wait(bucket: Int) { waited.append(bucket) }
}

final class KernelAllReduceTests: XCTestCase {
    override func tearDown() { GradientExchange.communicator = nil }

    /// start -> wait -> slices, against a naive reference: share x own + the other's part.
    func testStartScalesAndPacksWaitAndSlicesUnpack() throws {
        let data = TestData(seed: 5)
        let g0 = data.floats([2, 3]), g1 = data.floats([4])
        let b = GraphBuilder(name: "exchange")
        let x0 = b.input("g0", .f32([2, 3])), x1 = b.input("g1", .f32([4]))
        let start = try b.emit(.allReduceStart, [x0, x1], ["bucket": .int(3)])
        let wait = try b.emit(.allReduceWait, [start], ["bucket": .int(3)])
        b.outputs = [("a", try b.emit(.bucketSlice, [wait], ["start": .int(0), "shape": .shape([2, 3])])),
                     ("b", try b.emit(.bucketSlice, [wait], ["start": .int(6), "shape": .shape([4])]))]
        let exchange = RecordingExchange()
        exchange.remote = data.floats([10]).floats
        GradientExchange.communicator = exchange
        let ex = try Executor(graph: b.finish(), options: ExecutionOptions(), planner: BufferPlan.lifetimes)
        let out = try ex.run(feeds: ["g0": g0, "g1": g1], parameters: ParameterStore())
        let own = g0.floats + g1.floats
        let expected = (0..<10).map { Double(own[$0]) * 0.25 + Double(exchange.remote[$0]) }
        assertClose(try XCTUnwrap(out["a"]), Array(expected[0..<6]), shape: [2, 3])
        assertClose(try XCTUnwrap(out["b"]), Array(expected[6..<10]), shape: [4])
        XCTAssertEqual(exchange.started.map(\.bucket), [3])
        XCTAssertEqual(exchange.started.map(\.count), [10])
        XCTAssertEqual(exchange.waited, [3])

        // Without a communicator the process is the whole job: the gradients come back as they were.
        GradientExchange.communicator = nil
        let alone = try ex.run(feeds: ["g0": g0, "g1": g1], parameters: ParameterStore())
        XCTAssertEqual(alone["a"]?.floats, g0.floats)
        XCTAssertEqual(alone["b"]?.floats, g1.floats)
    }

    let source = """
    let x = input("x", [batch, 6])
    let y = input("y", [batch], .int64)
    let net = Sequential { Linear(16); ReLU(); Linear(3); LogSoftmax() }
    let logp = net(x)
    output("logp", logp)
    loss(nllLoss(logp, y))
    """

    func batch(_ step: Int, size: Int) -> (x: [Float], y: [Int64]) {
        let r = RandomSource(seed: UInt64(step))
        var xs: [Float] = [], ys: [Int64] = []
        for _ in 0..<size {
            let row = (0..<6).map { _ in r.nextNormal() }
            xs += row
            ys.append(Int64(row[0..<3].indices.max { row[$0] < row[$1] } ?? 0))
        }
        return (xs, ys)
    }

    func feeds(_ b: (x: [Float], y: [Int64]), rows: Range<Int>) -> [String: HostTensor] {
        ["x": HostTensor(shape: [rows.count, 6], floats: Array(b.x[(rows.lowerBound * 6)..<(rows.upperBound * 6)])),
         "y": HostTensor(shape: [rows.count], ints: Array(b.y[rows]))]
    }

    /// The pass and the kernels end to end: two ranks (threads) each stepping on half of every
    /// batch, their gradients summed by the all-reduce ops, reproduce one process stepping on
    /// the whole batch, step by step, to float rounding.
    func testTwoRanksOnHalfBatchesReproduceOneOnTheWholeBatch() throws {
        let lowered = try Frontend.lower(source: source, file: "t.swiftgraph")
        let single = try Pipelines.compileForTraining(lowered, .checked(fusion: false)).training
        var options = PassOptions(verifyEach: true, fusion: false)
        options.dataParallel = true
        options.bucketBytes = 256   // several buckets
        let parallel = try Pipelines.compileForTraining(lowered, PassContext(options: options)).training
        XCTAssertGreaterThan(parallel.nodes.filter { $0.op == .allReduceStart }.count, 1)

        let steps = 40, size = 8
        func trainer(_ g: Graph) throws -> Trainer {
            let store = ParameterStore()
            try store.initialise(from: lowered, seed: 3)
            return try Trainer(graph: g, parameters: store, optimizer: SGD(learningRate: 0.1, momentum: 0.9),
                               options: ExecutionOptions(training: true, seed: 3, threads: 1))
        }
        let one = try trainer(single)
        var reference: [Float] = []
        for s in 0..<steps { reference.append(try one.step(feeds: feeds(batch(s, size: size), rows: 0..<size))) }

        let exchange = ThreadRanksExchange(ranks: 2)
        GradientExchange.communicator = exchange
        let ranks = [try trainer(parallel), try trainer(parallel)]
        final class RankRecord: @unchecked Sendable { var losses: [Float] = []; var failure = "" }
        let records = [RankRecord(), RankRecord()]
        let done = DispatchGroup()
        for r in 0..<2 {
            done.enter()
            let t = Thread {
                Thread.current.threadDictionary["rank"] = r
                do {
                    for s in 0..<steps {
                        let rows = (r * size / 2)..<((r + 1) * size / 2)
                        records[r].losses.append(try ranks[r].step(feeds: self.feeds(self.batch(s, size: size), rows: rows)))
                    }
                } catch { records[r].failure = "\(error)" }
                done.leave()
            }
            t.start()
        }
        done.wait()
        XCTAssertEqual(records.map(\.failure), ["", ""])
        let losses = records.map(\.losses)
        XCTAssertEqual(losses.map(\.count), [steps, steps])
        for s in 0..<steps {
            let global = (losses[0][s] + losses[1][s]) / 2
            XCTAssertEqual(global, reference[s], accuracy: 1e-5 * abs(reference[s]), "step \(s + 1)")
        }
        XCTAssertLessThan(reference.suffix(5).reduce(0, +), reference.prefix(5).reduce(0, +), "it learns")
        let w0 = ranks[0].parameters.names.flatMap { ranks[0].parameters.get($0)?.floats ?? [] }
        let w1 = ranks[1].parameters.names.flatMap { ranks[1].parameters.get($0)?.floats ?? [] }
        XCTAssertEqual(w0, w1, "both ranks hold the same weights")
    }
}
