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
