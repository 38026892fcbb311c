import Frontend
import GraphIR
import Passes
import Runtime
import Training
import XCTest

/// The training loop's feature batches written into the executor's memory: the images' rows
/// in batch order, also when the copy is split over a pool in chunks that end inside rows.
final class CaptioningBatchWriterTests: XCTestCase {
    func testBatchWriterWritesTheImagesRowsInOrder() throws {
        let rows = 6, regions = 64, dim = 1024, size = regions * dim
        let values = (0..<(rows * size)).map { Float($0 % 9973) - Float($0 / size) * 0.5 }
        let features = CaptioningFeatures(values: values, rows: rows, regions: regions, dim: dim, provenance: "test")
        let names = ["5.tif", "2.tif", "6.tif", "2.tif", "1.tif"]
        let expected = names.flatMap { name -> ArraySlice<Float> in
            let r = (Int(name.dropLast(4)) ?? 0) - 1
            return values[(r * size)..<((r + 1) * size)]
        }
        let writer = try features.batchWriter(names)
        XCTAssertEqual(writer.shape, [5, regions, dim])
        XCTAssertEqual(try writer.tensor().floats, expected)
        XCTAssertEqual(try features.batch(names).floats, expected)
        // More elements than one chunk of a memory-bound loop: split over two threads.
        XCTAssertGreaterThan(names.count * size, 2 * WorkerPool.memoryBoundMinimumWork)
        let pool = WorkerPool(threads: 2, tuner: Tuner(mode: .off))
        var out = [Float](repeating: -1, count: names.count * size)
        try out.withUnsafeMutableBytes { b in
            guard let p = b.baseAddress else { return XCTFail("no memory") }
            try writer.write(p, pool)
        }
        XCTAssertEqual(out, expected)
        XCTAssertThrowsError(try features.batchWriter(["7.tif"])) { XCTAssertTrue("\($0)".contains("row 6"), "\($0)") }
    }
}

extension CaptioningBatchWriterTests {
    /// Features made with the public init from fewer values than rows x regions x dim (or
    /// sizes whose product overflows) give an error for a row they do not hold, instead of
    /// the batch copies reading past the values.
    func testFeaturesShortOfTheirRowsAreAnErrorNotAReadPastThem() throws {
        let short = CaptioningFeatures(values: [Float](repeating: 1, count: 40), rows: 3, regions: 4, dim: 8, provenance: "short")
        XCTAssertEqual(try short.batch(["1.tif"]).floats, [Float](repeating: 1, count: 32))
        XCTAssertThrowsError(try short.batchWriter(["2.tif"])) { XCTAssertTrue("\($0)".contains("hold 40 values"), "\($0)") }
        XCTAssertThrowsError(try short.batch(["1.tif", "3.tif"])) { XCTAssertTrue("\($0)".contains("no row 2"), "\($0)") }
        let huge = CaptioningFeatures(values: [1, 2], rows: 2, regions: 1 << 40, dim: 1 << 40, provenance: "huge")
        XCTAssertThrowsError(try huge.batchWriter(["1.tif"]))
        let negative = CaptioningFeatures(values: [1, 2], rows: 2, regions: -1, dim: 1, provenance: "negative")
        XCTAssertThrowsError(try negative.batch(["1.tif"]))
    }
}

extension CaptioningBatchWriterTests {
    /// The vanilla decoder reads its features only through their mean over the regions, so its
    /// graphs take them reduced (`reduced-inputs`) and the writer averages each image's row
    /// where it lies: three training steps and the greedy captions after them are the bits of
    /// the graphs that copy the batch in and take its mean, at one thread and at two.
    func testVanillaDecoderTrainsOnAveragedRowsAsOnTheMean() throws {
        let path = Q3Support.repository.appendingPathComponent("graphs/caption_lstm.swiftgraph").path
        let rows = 5, regions = 256, dim = 512
        let random = RandomSource(seed: 8)
        var values = [Float](repeating: 0, count: rows * regions * dim)
        for i in values.indices { values[i] = random.nextFloat() * 2 - 1 }
        let features = CaptioningFeatures(values: values, rows: rows, regions: regions, dim: dim, provenance: "test")
        let batches = [["3.tif", "1.tif"], ["5.tif", "3.tif"], ["2.tif", "4.tif"]]
        var ids = [Int64](repeating: 0, count: 44)
        for i in 0..<44 where i % 22 < 9 { ids[i] = Int64((i * 7) % 189 + 1) }
        let captions = HostTensor(shape: [2, 22], ints: ids)
        func compiled(_ mode: Mode, reduced: Bool) throws -> [Graph] {
            var options = PassOptions()
            if !reduced { options.disabledFusions = [.reducedInputs] }
            let lowered = try Frontend.lower(path: path, options: FrontendOptions(mode: mode))
            if mode == .infer { return [try Pipelines.compileForInference(lowered, PassContext(options: options))] }
            return [try Pipelines.compileForTraining(lowered, PassContext(options: options)).training]
        }
        for threads in [1, 2] {
            var results: [[Float]] = []
            for reduced in [false, true] {
                let training = try compiled(.train, reduced: reduced)[0], infer = try compiled(.infer, reduced: reduced)[0]
                XCTAssertEqual(training.nodes.contains { $0.op == .mean }, !reduced)
                let store = ParameterStore()
                try store.initialise(from: training, seed: 42)
                let trainer = try Trainer(graph: training, parameters: store, optimizer: Adam(learningRate: 0.01), gradClip: 5,
                                          options: ExecutionOptions(seed: 3, threads: threads))
                // Timed as `--profile` times it: the writes still go the reduced way, and count as data.
                trainer.executor.measuresTime = true
                var losses: [Float] = []
                var whole = 0, averaged = 0
                let kept = CaptioningFeatures.ReducedRows()   // image 3 comes back: its row is reused
                for names in batches {
                    let w = try features.batchWriter(names, reducedRows: kept)
                    let counted = FeedWriter(shape: w.shape, write: { p, pool in whole += 1; try w.write(p, pool) },
                                             writeReduced: { feed, p, pool in averaged += 1; try w.writeReduced?(feed, p, pool) })
                    losses.append(try trainer.step(feeds: ["captions": captions], writing: ["features": counted]))
                }
                XCTAssertEqual([whole, averaged], reduced ? [0, 3] : [3, 0])
                XCTAssertEqual(kept.count, reduced ? 5 : 0)
                XCTAssertGreaterThan(trainer.phaseTimes.data, 0)
                let decoder = try Executor(graph: infer, options: ExecutionOptions(threads: threads))
                let words = try decoder.run(feeds: ["features": try features.batch(["4.tif", "2.tif"]),
                                                    "start": HostTensor(shape: [2], ints: [1, 1])], parameters: store)
                let weights: [Float] = store.get("init_h.weight")?.floats ?? []
                let greedy: [Float] = words["words"]?.floats ?? []
                results.append(losses + greedy + weights)
            }
            XCTAssertEqual(results[0].count, results[1].count)
            XCTAssertTrue(results[0] == results[1], "\(threads) threads: the reduced graphs differ")
        }
    }
}

extension CaptioningBatchWriterTests {
    /// One `ReducedRows` handed two feature tables (the same image names, other values): the
    /// second table's batch is its own rows' mean, not the rows kept from the first.
    func testKeptRowsStartAfreshForAnotherTable() throws {
        let b = GraphBuilder(name: "mean-of-features")
        let x = b.input("features", .f32(Shape([.symbol("B"), .known(3), .known(4)])))
        b.outputs = [("m", try b.emit(.mean, [x], ["axes": .ints([1])]))]
        let graph = try Pipelines.compileForInference(b.finish(), PassContext())
        XCTAssertFalse(graph.nodes.contains { $0.op == .mean }, "the input is not taken reduced")
        let kept = CaptioningFeatures.ReducedRows()
        let executor = try Executor(graph: graph, options: ExecutionOptions(threads: 1))
        for offset: Float in [0, 100] {
            let values = (0..<24).map { Float($0) + offset }
            let table = CaptioningFeatures(values: values, rows: 2, regions: 3, dim: 4, provenance: "table \(offset)")
            try executor.execute(feeds: [:], writing: ["features": try table.batchWriter(["2.tif"], reducedRows: kept)],
                                 parameters: ParameterStore())
            let m: [Float] = executor.outputBuffer(named: "m").map { Array($0) } ?? []
            let expected: [Float] = (0..<4).map { d in
                let sum: Float = values[12 + d] + values[16 + d] + values[20 + d]
                return sum / 3
            }
            XCTAssertEqual(m.count, expected.count)
            for (got, want) in zip(m, expected) { XCTAssertEqual(got, want, accuracy: 1e-3, "table offset \(offset)") }
        }
    }
}
