import Foundation
import XCTest
@testable import Datasets

/// The .npz writer against what numpy writes (Fixtures/numpy_savez.npz, made by
/// Fixtures/make_npz_fixture.py) and through graphc's own reader.
final class NPZWriterTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    func array(_ dtype: NPYDType, _ shape: [Int], _ bytes: [UInt8]) -> NPYArray {
        NPYArray(dtype: dtype, shape: shape, raw: Data(bytes), source: "test")
    }

    /// The arrays make_npz_fixture.py saves, in its order.
    var fixtureArrays: [(name: String, array: NPYArray)] {
        [("P1", array(.f32, [2, 3], TestFiles.bytes(of: (0..<6).map { (Float($0) - 2) / 4 }))),
         ("words", array(.i64, [2, 3], TestFiles.bytes(of: [1, 5, 189, 7, 2, 0] as [Int64]))),
         ("loss", array(.f32, [], TestFiles.bytes(of: [Float(2.5)]))),
         ("x64", array(.f64, [2], TestFiles.bytes(of: [0.1, -3.0] as [Double]))),
         ("long_axis", array(.f32, [1_234_567, 0], []))]
    }

    func testWritesWhatNumpySavezWritesByteForByte() throws {
        let numpy = try Data(contentsOf: Self.fixtures.appendingPathComponent("numpy_savez.npz"))
        let ours = try NPZWriter.encode(fixtureArrays)
        XCTAssertEqual(ours.count, numpy.count)
        if let i = zip(ours, numpy).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            XCTFail("first difference at byte \(i): ours \(ours[i]), numpy's \(numpy[i])")
        }
    }

    func testRoundTripsThroughTheReader() throws {
        let dir = try TestFiles.tempDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/out.npz"
        try NPZWriter.write(fixtureArrays, to: path)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["out.npz"], "no temporary file is left behind")
        let archive = try NPZArchive(path: path)
        XCTAssertEqual(archive.keys, ["P1", "words", "loss", "x64", "long_axis"])
        for (name, written) in fixtureArrays {
            let read = try archive.array(name)
            XCTAssertEqual(read.dtype, written.dtype, name)
            XCTAssertEqual(read.shape, written.shape, name)
            XCTAssertEqual(read.raw, written.raw, name)
        }
        XCTAssertEqual(try archive.array("words").int64s(), [1, 5, 189, 7, 2, 0])
    }

    func testHeadersAreAlignedForEveryRankAndSize() throws {
        for shape in [[], [1], [7], [10, 1], [123_456_789, 0], [2, 3, 4, 5, 6, 7, 8, 9], [Int](repeating: 1, count: 40)] {
            let count = shape.reduce(1, *)
            let npy = try NPYWriter.encode(array(.f32, shape, [UInt8](repeating: 0, count: 4 * count)))
            XCTAssertEqual((npy.count - 4 * count) % 64, 0, "\(shape)")
            XCTAssertEqual(npy[npy.count - 4 * count - 1], 0x0A, "the header ends with a newline")
            let back = try NPYReader.parse(npy, file: "t.npy")
            XCTAssertEqual(back.shape, shape)
        }
    }

    func testRefusesArraysThatDoNotMatchTheirShape() throws {
        TestFiles.assertDataError(["test", "needs 24 bytes", "holds 20"]) {
            _ = try NPYWriter.encode(array(.f32, [2, 3], [UInt8](repeating: 0, count: 20)))
        }
        TestFiles.assertDataError(["o.npz", "two arrays named 'a'"]) {
            _ = try NPZWriter.encode([("a", array(.u8, [1], [1])), ("a", array(.u8, [1], [2]))], file: "o.npz")
        }
        // A folder that cannot be made: its parent is a file.
        let dir = try TestFiles.tempDirectory()
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let file = try TestFiles.write([1], dir, "file")
        TestFiles.assertDataError(["file/sub/o.npz", "cannot write"]) {
            try NPZWriter.write([("a", array(.u8, [1], [1]))], to: file + "/sub/o.npz")
        }
    }
}
