import Foundation
import XCTest
@testable import Datasets

/// Zip layouts torch's small fixtures do not exercise: ZIP64 central-directory fields, and
/// entries a foreign zip tool might produce.
final class TorchZipArchiveTests: XCTestCase {
    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    static func le(_ v: UInt64, _ width: Int) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }

    /// One entry `name` holding `payload`. With `zip64`, the central directory saturates sizes and
    /// offset to 0xFFFFFFFF and gives them in a ZIP64 extra field, and a ZIP64 end record is used.
    static func zip(name: String, payload: [UInt8], method: UInt16 = 0, crc: UInt32? = nil, zip64: Bool) -> [UInt8] {
        let n = Array(name.utf8)
        let sum = crc ?? crc32(payload)
        var out: [UInt8] = le(0x0403_4B50, 4) + le(20, 2) + le(0, 2) + le(UInt64(method), 2) + le(0, 4)
        out += le(UInt64(sum), 4) + le(UInt64(payload.count), 4) + le(UInt64(payload.count), 4)
        out += le(UInt64(n.count), 2) + le(0, 2) + n + payload
        let cdOffset = out.count
        let saturated: UInt64 = zip64 ? 0xFFFF_FFFF : 0
        let extra: [UInt8] = zip64 ? le(1, 2) + le(24, 2) + le(UInt64(payload.count), 8) + le(UInt64(payload.count), 8) + le(0, 8) : []
        var cd: [UInt8] = le(0x0201_4B50, 4) + le(45, 2) + le(45, 2) + le(0, 2) + le(UInt64(method), 2) + le(0, 4)
        cd += le(UInt64(sum), 4)
        cd += zip64 ? le(saturated, 4) + le(saturated, 4) : le(UInt64(payload.count), 4) + le(UInt64(payload.count), 4)
        cd += le(UInt64(n.count), 2) + le(UInt64(extra.count), 2) + le(0, 2) + le(0, 2) + le(0, 2) + le(0, 4)
        cd += le(zip64 ? saturated : 0, 4) + n + extra
        out += cd
        if zip64 {
            let record = out.count
            out += le(0x0606_4B50, 4) + le(44, 8) + le(45, 2) + le(45, 2) + le(0, 4) + le(0, 4)
            out += le(1, 8) + le(1, 8) + le(UInt64(cd.count), 8) + le(UInt64(cdOffset), 8)
            out += le(0x0706_4B50, 4) + le(0, 4) + le(UInt64(record), 8) + le(1, 4)
            out += le(0x0605_4B50, 4) + le(0, 2) + le(0, 2) + le(0xFFFF, 2) + le(0xFFFF, 2) + le(0xFFFF_FFFF, 4) + le(0xFFFF_FFFF, 4) + le(0, 2)
        } else {
            out += le(0x0605_4B50, 4) + le(0, 2) + le(0, 2) + le(1, 2) + le(1, 2) + le(UInt64(cd.count), 4) + le(UInt64(cdOffset), 4) + le(0, 2)
        }
        return out
    }

    func testClassicAndZip64EntriesRead() throws {
        let payload: [UInt8] = Array("storage bytes".utf8)
        for zip64 in [false, true] {
            let archive = try TorchZipArchive(path: "t.pth", bytes: Self.zip(name: "t/data/0", payload: payload, zip64: zip64))
            XCTAssertEqual(archive.entries.map(\.name), ["t/data/0"])
            let entry = try XCTUnwrap(archive.entry(named: "t/data/0"))
            XCTAssertEqual(entry.size, payload.count)
            XCTAssertEqual(Array(try archive.contents(of: entry)), payload, "zip64: \(zip64)")
        }
    }

    func testCompressedEntriesAndBadChecksumsAreErrors() throws {
        let payload: [UInt8] = [1, 2, 3, 4]
        let deflated = try TorchZipArchive(path: "d.pth", bytes: Self.zip(name: "d/data.pkl", payload: payload, method: 8, zip64: false))
        let e1 = try XCTUnwrap(deflated.entry(named: "d/data.pkl"))
        CaptioningTestFiles.assertFileError(try deflated.contents(of: e1), file: "d.pth", contains: "is compressed (method 8)")

        let bad = try TorchZipArchive(path: "c.pth", bytes: Self.zip(name: "c/data.pkl", payload: payload, crc: 12345, zip64: true))
        let e2 = try XCTUnwrap(bad.entry(named: "c/data.pkl"))
        CaptioningTestFiles.assertFileError(try bad.contents(of: e2), file: "c.pth", contains: "CRC-32 mismatch")

        CaptioningTestFiles.assertFileError(try TorchZipArchive(path: "s.pth", bytes: [0x50, 0x4B, 0x03, 0x04]),
                                            file: "s.pth", contains: "file too short")
        var noEnd = Self.zip(name: "n/x", payload: payload, zip64: false)
        noEnd.removeLast(22)
        CaptioningTestFiles.assertFileError(try TorchZipArchive(path: "n.pth", bytes: noEnd), file: "n.pth", contains: "no end-of-central-directory")
    }

    func testArchiveWithoutPickleIsRejected() throws {
        let dir = try CaptioningTestFiles.tempDirectory(self)
        let url = dir.appendingPathComponent("nopickle.pth")
        try Data(Self.zip(name: "nopickle/version", payload: Array("3\n".utf8), zip64: false)).write(to: url)
        CaptioningTestFiles.assertFileError(try TorchCheckpoint.load(path: url.path), file: url.path, contains: "no <name>/data.pkl entry")
    }
}
