import Foundation
import XCTest
@testable import Datasets

final class GzipTests: XCTestCase {
    let text = Array(String(repeating: "graphc inflates gzip through zlib. ", count: 200).utf8)

    func testRoundTripsGzip() throws {
        let packed = TestFiles.gzip(text)
        XCTAssertTrue(Gzip.isGzip(Data(packed)))
        XCTAssertLessThan(packed.count, text.count / 4)
        XCTAssertEqual(try Gzip.decompress(Data(packed)), Data(text))
    }

    func testConcatenatedMembersAreJoined() throws {
        let packed = TestFiles.gzip(Array(text[0..<100])) + TestFiles.gzip(Array(text[100...]))
        XCTAssertEqual(try Gzip.decompress(Data(packed)), Data(text))
    }

    func testRawDeflateWithExpectedSize() throws {
        let raw = TestFiles.deflate(text, windowBits: -15)
        XCTAssertEqual(try Gzip.inflateRaw(Data(raw), expectedSize: text.count), Data(text))
        TestFiles.assertDataError(["entry.bin", "expected \(text.count - 1)"]) {
            _ = try Gzip.inflateRaw(Data(raw), expectedSize: text.count - 1, file: "/tmp/entry.bin")
        }
    }

    func testTruncatedGzipNamesFile() {
        let packed = TestFiles.gzip(text)
        TestFiles.assertDataError(["images.gz", "truncated"]) {
            _ = try Gzip.decompress(Data(packed[0..<(packed.count / 2)]), file: "/data/images.gz")
        }
    }

    func testCorruptGzipNamesFile() {
        var packed = TestFiles.gzip(text)
        // Damage the stored CRC in the trailer: zlib must notice.
        packed[packed.count - 6] ^= 0xff
        TestFiles.assertDataError(["labels.gz", "bad gzip data"]) {
            _ = try Gzip.decompress(Data(packed), file: "/data/labels.gz")
        }
        TestFiles.assertDataError(["x.gz", "bad gzip data"]) {
            _ = try Gzip.decompress(Data([0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff]), file: "x.gz")
        }
        TestFiles.assertDataError(["e.gz", "empty"]) { _ = try Gzip.decompress(Data(), file: "e.gz") }
    }
}
