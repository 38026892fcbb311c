import Foundation
import XCTest
@testable import Datasets

final class IDXReaderTests: XCTestCase {
    func testReadsPlainAndGzipImages() throws {
        let dir = try TestFiles.tempDirectory()
        let pixels = (0..<(3 * 2 * 4)).map { UInt8($0 * 10) }
        let bytes = TestFiles.idx(dims: [3, 2, 4], data: pixels)
        let plain = try TestFiles.write(bytes, dir, "images-idx3-ubyte")
        let gz = try TestFiles.write(TestFiles.gzip(bytes), dir, "images-idx3-ubyte.gz")
        for path in [plain, gz] {
            let a = try IDXReader.read(path: path, expectedRank: 3)
            XCTAssertEqual(a.dims, [3, 2, 4])
            XCTAssertEqual(a.bytes, pixels)
        }
    }

    func testBadMagic() throws {
        let dir = try TestFiles.tempDirectory()
        let p = try TestFiles.write([0x00, 0x00, 0x0D, 0x01, 0, 0, 0, 1, 7], dir, "labels-idx1-ubyte")
        TestFiles.assertDataError(["labels-idx1-ubyte", "bad magic number 0x00000d01"]) {
            _ = try IDXReader.read(path: p)
        }
        // Right type, wrong rank for what the caller wants.
        let q = try TestFiles.write(TestFiles.idx(dims: [1, 1], data: [3]), dir, "t10k-labels-idx1-ubyte")
        TestFiles.assertDataError(["t10k-labels-idx1-ubyte", "0x00000801", "found 2"]) {
            _ = try IDXReader.read(path: q, expectedRank: 1)
        }
    }

    func testTruncatedNamesSizes() throws {
        let dir = try TestFiles.tempDirectory()
        let bytes = TestFiles.idx(dims: [10000, 28, 28], data: [UInt8](repeating: 1, count: 123))
        let p = try TestFiles.write(TestFiles.gzip(bytes), dir, "t10k-images-idx3-ubyte.gz")
        TestFiles.assertDataError(["t10k-images-idx3-ubyte.gz: truncated: header says 10000x28x28 = 7840000 bytes, found 123"]) {
            _ = try IDXReader.read(path: p, expectedRank: 3)
        }
        let short = try TestFiles.write([0, 0, 8, 3, 0, 0], dir, "short")
        TestFiles.assertDataError(["short", "truncated: header needs 16 bytes, found 6"]) {
            _ = try IDXReader.read(path: short)
        }
        let tiny = try TestFiles.write([0, 0], dir, "tiny")
        TestFiles.assertDataError(["tiny", "truncated"]) { _ = try IDXReader.read(path: tiny) }
    }

    func testExtraBytesAreAnError() throws {
        let dir = try TestFiles.tempDirectory()
        let p = try TestFiles.write(TestFiles.idx(dims: [2], data: [1, 2, 3]), dir, "labels")
        TestFiles.assertDataError(["labels", "header says 2 = 2 bytes, found 3"]) { _ = try IDXReader.read(path: p) }
    }

    func testMissingAndBadGzipFile() throws {
        let dir = try TestFiles.tempDirectory()
        TestFiles.assertDataError(["nothing.gz", "no such file"]) {
            _ = try IDXReader.read(path: dir + "/nothing.gz")
        }
        var packed = TestFiles.gzip(TestFiles.idx(dims: [4], data: [1, 2, 3, 4]))
        packed[12] ^= 0x5a
        packed[13] ^= 0xa5
        let p = try TestFiles.write(packed, dir, "train-labels-idx1-ubyte.gz")
        TestFiles.assertDataError(["train-labels-idx1-ubyte.gz", "gzip"]) { _ = try IDXReader.read(path: p) }
    }

    func testArbitraryBytesNeverTrap() throws {
        // Every prefix of a valid file and a few bit flips must give an error or a result.
        let valid = TestFiles.idx(dims: [2, 3], data: [1, 2, 3, 4, 5, 6])
        for n in 0..<valid.count {
            XCTAssertThrowsError(try IDXReader.parse(Data(valid[0..<n]), file: "f"))
        }
        for i in 0..<valid.count {
            var b = valid
            b[i] ^= 0xff
            _ = try? IDXReader.parse(Data(b), file: "f")
        }
        XCTAssertEqual(try IDXReader.parse(Data(valid), file: "f").dims, [2, 3])
    }
}
