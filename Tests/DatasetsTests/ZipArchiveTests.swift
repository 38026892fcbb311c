import GraphIR
import Foundation
import XCTest
@testable import Datasets

/// The zip layer under NPZArchive and TorchCheckpoint, with layouts their fixtures do not all
/// exercise: ZIP64 end records and extra fields, deflate, damaged directories and entries.
final class ZipArchiveTests: XCTestCase {
    typealias F = CaptioningTestFiles
    let text: [UInt8] = Array("storage bytes, storage bytes, storage bytes".utf8)
    let counts: [UInt8] = (0..<200).map { UInt8($0 % 7) }

    func archive(deflated: Bool, numpyStyle: Bool, zip64: Bool) -> [UInt8] {
        TestFiles.zip([.init(name: "t/data/0", content: text, deflated: deflated),
                       .init(name: "t/data/1", content: counts, deflated: deflated)],
                      numpyStyle: numpyStyle, zip64Directory: zip64)
    }

    func testClassicAndZip64StoredAndDeflatedEntriesRead() throws {
        for deflated in [false, true] {
            for numpyStyle in [false, true] {
                for zip64 in [false, true] {
                    let layout = "deflated \(deflated), numpyStyle \(numpyStyle), zip64 \(zip64)"
                    let zip = try ZipArchive(path: "t.zip", bytes: archive(deflated: deflated, numpyStyle: numpyStyle, zip64: zip64))
                    XCTAssertEqual(zip.entries.map(\.name), ["t/data/0", "t/data/1"], layout)
                    XCTAssertEqual(zip.entries.map(\.method), deflated ? [8, 8] : [0, 0], layout)
                    let second = try XCTUnwrap(zip.entry(named: "t/data/1"))
                    XCTAssertEqual(second.size, counts.count, layout)
                    XCTAssertEqual(Array(try zip.contents(of: second)), counts, layout)
                    XCTAssertEqual([UInt8](try zip.data(of: zip.entries[0])), text, layout)
                    XCTAssertNil(zip.entry(named: "t/data/2"))
                }
            }
        }
    }

    static func offset(of signature: UInt32, in bytes: [UInt8]) throws -> Int {
        let pattern = TestFiles.le32(signature)
        return try XCTUnwrap((0...(bytes.count - 4)).first { Array(bytes[$0..<($0 + 4)]) == pattern })
    }

    func testDamagedArchivesAreErrors() throws {
        let good = archive(deflated: false, numpyStyle: false, zip64: true)
        F.assertFileError(try ZipArchive(path: "s.zip", bytes: [0x50, 0x4B, 0x03, 0x04]),
                          file: "s.zip", contains: "not a zip archive: file too short (4 bytes)")
        F.assertFileError(try ZipArchive(path: "n.zip", bytes: Array(good.dropLast(22))),
                          file: "n.zip", contains: "no end-of-central-directory record")

        // The ZIP64 locator pointing at the start of the file instead of the ZIP64 end record.
        var misplaced = good
        misplaced.replaceSubrange((good.count - 22 - 12)..<(good.count - 22 - 4), with: TestFiles.le64(0))
        F.assertFileError(try ZipArchive(path: "l.zip", bytes: misplaced), file: "l.zip", contains: "no ZIP64 end record at byte 0")

        // Last data byte of the first entry: only that entry fails its CRC.
        var flipped = good
        flipped[30 + "t/data/0".utf8.count + text.count - 1] ^= 1
        let crc = try ZipArchive(path: "c.zip", bytes: flipped)
        F.assertFileError(try crc.contents(of: crc.entries[0]), file: "c.zip", contains: "zip entry t/data/0: CRC-32 mismatch")
        XCTAssertEqual(Array(try crc.contents(of: crc.entries[1])), counts)

        // Method 12 (bzip2) in the first central directory record.
        var bzip2 = good
        bzip2[try Self.offset(of: 0x0201_4B50, in: good) + 10] = 12
        let method = try ZipArchive(path: "m.zip", bytes: bzip2)
        F.assertFileError(try method.contents(of: method.entries[0]), file: "m.zip", contains: "unsupported compression method 12")

        // Deflated bytes damaged: inflate or the CRC check fails, naming the entry.
        var inflate = archive(deflated: true, numpyStyle: false, zip64: false)
        inflate[30 + "t/data/0".utf8.count + 2] ^= 0xFF
        let damaged = try ZipArchive(path: "d.zip", bytes: inflate)
        F.assertFileError(try damaged.contents(of: damaged.entries[0]), file: "d.zip", contains: "zip entry t/data/0")
    }

    func testEveryTruncationIsAnError() throws {
        let whole = archive(deflated: true, numpyStyle: true, zip64: true)
        for length in 0..<whole.count {
            let cut = Array(whole.prefix(length))
            do {
                let zip = try ZipArchive(path: "t.zip", bytes: cut)
                for entry in zip.entries { _ = try zip.contents(of: entry) }
                XCTFail("archive cut to \(length) of \(whole.count) bytes read without error")
            } catch let e as FileError {
                XCTAssertEqual(e.file, "t.zip")
            }
        }
    }
}
