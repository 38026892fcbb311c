import GraphIR
import CZlib
import Foundation
import XCTest
@testable import Datasets

/// Builders for the small data files the tests write (nothing binary is committed).
enum TestFiles {
    static func tempDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("graphc-datasets-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.path
    }

    static func write(_ bytes: [UInt8], _ dir: String, _ name: String) throws -> String {
        let path = (dir as NSString).appendingPathComponent(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
    }

    static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * UInt32($0)) & 0xff) } }
    static func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(v >> (8 * UInt64($0)) & 0xff) } }

    static func idx(dims: [Int], data: [UInt8]) -> [UInt8] {
        [0, 0, 0x08, UInt8(dims.count)] + dims.flatMap { bigEndian(UInt32($0)) } + data
    }

    /// An NPY file as numpy writes it: header padded with spaces to a multiple of 64 bytes.
    static func npy(descr: String, shape: [Int], data: [UInt8], fortran: Bool = false, version: UInt8 = 1) -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var header = "{'descr': '\(descr)', 'fortran_order': \(fortran ? "True" : "False"), 'shape': \(shapeText), }"
        let preamble = version == 1 ? 10 : 12
        while (preamble + header.utf8.count + 1) % 64 != 0 { header += " " }
        header += "\n"
        let length = header.utf8.count
        let lengthBytes = version == 1 ? le16(length) : le32(UInt32(length))
        return [0x93] + Array("NUMPY".utf8) + [version, 0] + lengthBytes + Array(header.utf8) + data
    }

    static func bytes<T>(of values: [T]) -> [UInt8] {
        values.withUnsafeBytes { Array($0) }
    }

    static func crc(_ b: [UInt8]) -> UInt32 {
        b.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
    }

    /// zlib deflate with the given window bits: 31 = gzip wrapper, -15 = raw deflate.
    static func deflate(_ input: [UInt8], windowBits: Int32) -> [UInt8] {
        var stream = z_stream()
        XCTAssertEqual(deflateInit2_(&stream, 6, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)), Z_OK)
        defer { deflateEnd(&stream) }
        var out = [UInt8](repeating: 0, count: Int(deflateBound(&stream, uLong(input.count))) + 32)
        var src = input
        let produced: Int = src.withUnsafeMutableBufferPointer { s in
            out.withUnsafeMutableBufferPointer { o in
                stream.next_in = s.baseAddress
                stream.avail_in = uInt(s.count)
                stream.next_out = o.baseAddress
                stream.avail_out = uInt(o.count)
                XCTAssertEqual(CZlib.deflate(&stream, Z_FINISH), Z_STREAM_END)
                return o.count - Int(stream.avail_out)
            }
        }
        return Array(out[0..<produced])
    }

    static func gzip(_ input: [UInt8]) -> [UInt8] { deflate(input, windowBits: 31) }

    struct ZipMember {
        var name: String
        var content: [UInt8]
        var deflated: Bool
    }

    /// A zip archive. `numpyStyle` mimics numpy.savez (force_zip64): local headers carry
    /// 0xFFFFFFFF sizes and a zip64 extra field; `zip64Directory` also saturates the central
    /// directory fields so the reader must take them from the zip64 extra there, and ends the
    /// archive with zip64 end records (the classic one saturated, as large torch.save files do).
    static func zip(_ members: [ZipMember], numpyStyle: Bool = true, zip64Directory: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        for m in members {
            let stored = m.deflated ? deflate(m.content, windowBits: -15) : m.content
            let offset = out.count
            let name = Array(m.name.utf8)
            let method = m.deflated ? 8 : 0
            let crcValue = crc(m.content)
            let localExtra = numpyStyle ? le16(1) + le16(16) + le64(UInt64(m.content.count)) + le64(UInt64(stored.count)) : []
            out += le32(0x04034b50) + le16(45) + le16(0) + le16(method) + le16(0) + le16(0x21) + le32(crcValue)
            out += numpyStyle ? le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) : le32(UInt32(stored.count)) + le32(UInt32(m.content.count))
            out += le16(name.count) + le16(localExtra.count) + name + localExtra + stored

            let centralExtra = zip64Directory ? le16(1) + le16(24) + le64(UInt64(m.content.count)) + le64(UInt64(stored.count)) + le64(UInt64(offset)) : []
            central += le32(0x02014b50) + le16(45) + le16(45) + le16(0) + le16(method) + le16(0) + le16(0x21) + le32(crcValue)
            if zip64Directory {
                central += le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF)
            } else {
                central += le32(UInt32(stored.count)) + le32(UInt32(m.content.count))
            }
            central += le16(name.count) + le16(centralExtra.count) + le16(0) + le16(0) + le16(0) + le32(0)
            central += zip64Directory ? le32(0xFFFF_FFFF) : le32(UInt32(offset))
            central += name + centralExtra
        }
        let dirOffset = out.count
        out += central
        if zip64Directory {
            let record = out.count
            out += le32(0x06064b50) + le64(44) + le16(45) + le16(45) + le32(0) + le32(0)
            out += le64(UInt64(members.count)) + le64(UInt64(members.count)) + le64(UInt64(central.count)) + le64(UInt64(dirOffset))
            out += le32(0x07064b50) + le32(0) + le64(UInt64(record)) + le32(1)
            out += le32(0x06054b50) + le16(0) + le16(0) + le16(0xFFFF) + le16(0xFFFF) + le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) + le16(0)
        } else {
            out += le32(0x06054b50) + le16(0) + le16(0) + le16(members.count) + le16(members.count)
            out += le32(UInt32(central.count)) + le32(UInt32(dirOffset)) + le16(0)
        }
        return out
    }

    /// Runs `body`, expecting a FileError whose text contains every one of `fragments`.
    static func assertDataError(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected an error mentioning \(fragments)", file: file, line: line)
        } catch let e as FileError {
            for f in fragments {
                XCTAssertTrue(e.description.contains(f), "error '\(e.description)' does not mention '\(f)'", file: file, line: line)
            }
        } catch {
            XCTFail("expected FileError, got \(error)", file: file, line: line)
        }
    }
}
