import CZlib
import Foundation

/// The zip container of a PyTorch checkpoint (`torch.save` since 1.6): entries are stored
/// uncompressed (torch aligns them to 64 bytes), sometimes with ZIP64 records. Only stored
/// entries are supported; each is checked against its CRC-32.
struct TorchZipArchive {
    struct Entry {
        var name: String
        var method: UInt16
        var crc: UInt32
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
    }

    let path: String
    let bytes: [UInt8]
    /// Entries in central-directory order.
    let entries: [Entry]
    private let index: [String: Int]

    static func isZip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    init(path: String, bytes: [UInt8]) throws {
        self.path = path
        self.bytes = bytes
        let reader = TorchByteReader(bytes: bytes, file: path, context: "zip")
        let eocd = try Self.findEndOfCentralDirectory(bytes, path)
        var count = Int(try reader.u16(eocd + 10))
        var cdSize = Int(try reader.u32(eocd + 12))
        var cdOffset = Int(try reader.u32(eocd + 16))
        if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            // ZIP64: a locator just before the classic record points at the 64-bit record.
            let locator = eocd - 20
            guard locator >= 0, try reader.u32(locator) == 0x0706_4B50 else {
                throw DatasetFileError(file: path, message: "zip: ZIP64 sizes without a ZIP64 locator (byte \(eocd))")
            }
            let record = try reader.int(u64At: locator + 8)
            guard try reader.u32(record) == 0x0606_4B50 else {
                throw DatasetFileError(file: path, message: "zip: no ZIP64 end record at byte \(record)")
            }
            count = try reader.int(u64At: record + 32)
            cdSize = try reader.int(u64At: record + 40)
            cdOffset = try reader.int(u64At: record + 48)
        }
        guard cdOffset <= bytes.count, cdSize <= bytes.count - cdOffset, count <= cdSize / 46 + 1 else {
            throw DatasetFileError(file: path, message: "zip: central directory (\(count) entries at byte \(cdOffset)) lies outside the file")
        }
        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var at = cdOffset
        for _ in 0..<count {
            guard try reader.u32(at) == 0x0201_4B50 else {
                throw DatasetFileError(file: path, message: "zip: bad central directory record at byte \(at)")
            }
            let method = try reader.u16(at + 10)
            let crc = try reader.u32(at + 16)
            var compressed = Int(try reader.u32(at + 20))
            var size = Int(try reader.u32(at + 24))
            let nameLength = Int(try reader.u16(at + 28))
            let extraLength = Int(try reader.u16(at + 30))
            let commentLength = Int(try reader.u16(at + 32))
            var local = Int(try reader.u32(at + 42))
            let name = String(decoding: try reader.slice(at + 46, nameLength), as: UTF8.self)
            // ZIP64 extra field: 64-bit values for exactly the fields saturated above, in order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = try reader.u16(extra), length = Int(try reader.u16(extra + 2))
                if id == 0x0001 {
                    var field = extra + 4
                    if size == 0xFFFF_FFFF { size = try reader.int(u64At: field); field += 8 }
                    if compressed == 0xFFFF_FFFF { compressed = try reader.int(u64At: field); field += 8 }
                    if local == 0xFFFF_FFFF { local = try reader.int(u64At: field) }
                }
                extra += 4 + length
            }
            if index[name] == nil { index[name] = entries.count }
            entries.append(Entry(name: name, method: method, crc: crc, compressedSize: compressed, size: size, localHeaderOffset: local))
            at = extraEnd + commentLength
        }
        self.entries = entries
        self.index = index
    }

    private static func findEndOfCentralDirectory(_ bytes: [UInt8], _ path: String) throws -> Int {
        guard bytes.count >= 22 else { throw DatasetFileError(file: path, message: "zip: file too short (\(bytes.count) bytes)") }
        // The record is 22 bytes plus a comment of at most 65535 bytes at the very end.
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        var i = bytes.count - 22
        while i >= lowest {
            if bytes[i] == 0x50 && bytes[i + 1] == 0x4B && bytes[i + 2] == 0x05 && bytes[i + 3] == 0x06 { return i }
            i -= 1
        }
        throw DatasetFileError(file: path, message: "zip: no end-of-central-directory record (truncated file?)")
    }

    func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The bytes of a stored entry, after checking its local header and CRC-32.
    func contents(of entry: Entry) throws -> ArraySlice<UInt8> {
        let reader = TorchByteReader(bytes: bytes, file: path, context: "zip entry \(entry.name)")
        guard entry.method == 0 else {
            throw DatasetFileError(file: path, message: "zip entry \(entry.name) is compressed (method \(entry.method)); torch.save writes stored entries only")
        }
        let at = entry.localHeaderOffset
        guard try reader.u32(at) == 0x0403_4B50 else {
            throw DatasetFileError(file: path, message: "zip entry \(entry.name): no local header at byte \(at)")
        }
        let start = at + 30 + Int(try reader.u16(at + 26)) + Int(try reader.u16(at + 28))
        guard entry.compressedSize == entry.size else {
            throw DatasetFileError(file: path, message: "zip entry \(entry.name): stored size \(entry.compressedSize) differs from size \(entry.size)")
        }
        let data = try reader.slice(start, entry.size)
        let crc = data.withUnsafeBufferPointer { buf -> UInt32 in
            var c: uLong = crc32(0, nil, 0)
            var p = buf.baseAddress, left = buf.count
            while left > 0, let q = p {
                let n = min(left, Int(UInt32.max))
                c = crc32(c, q, uInt(n))
                p = q + n
                left -= n
            }
            return UInt32(truncatingIfNeeded: c)
        }
        guard crc == entry.crc else {
            throw DatasetFileError(file: path, message: "zip entry \(entry.name): CRC-32 mismatch (corrupt file)")
        }
        return data
    }
}

/// Bounds-checked little-endian reads; every failure names the file, the part being read and
/// the byte offset.
struct TorchByteReader {
    let bytes: [UInt8]
    let file: String
    let context: String

    func fail(_ offset: Int, _ what: String) -> DatasetFileError {
        DatasetFileError(file: file, message: "\(context), byte \(offset): \(what)")
    }

    func slice(_ offset: Int, _ count: Int) throws -> ArraySlice<UInt8> {
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else {
            throw fail(offset, "needs \(count) bytes but the file has \(max(0, bytes.count - max(0, offset))) left")
        }
        return bytes[offset..<(offset + count)]
    }

    func unsigned(_ offset: Int, _ width: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (i, b) in try slice(offset, width).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        return v
    }

    func u16(_ offset: Int) throws -> UInt16 { UInt16(try unsigned(offset, 2)) }
    func u32(_ offset: Int) throws -> UInt32 { UInt32(try unsigned(offset, 4)) }

    func int(u64At offset: Int) throws -> Int {
        let v = try unsigned(offset, 8)
        guard v <= UInt64(Int.max) else { throw fail(offset, "64-bit value \(v) is too large") }
        return Int(v)
    }
}
