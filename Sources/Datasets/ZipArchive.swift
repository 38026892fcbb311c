import GraphIR
import CZlib
import Foundation

/// A zip archive held in memory, as numpy's `.npz` and torch's `.pth` files are: the central
/// directory (with ZIP64 end records and extra fields, which numpy and torch both write), and
/// entries that are stored or deflated, each checked against its CRC-32.
struct ZipArchive {
    struct Entry {
        var name: String
        /// 0 = stored, 8 = deflated.
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
    /// First entry of each name.
    private let index: [String: Int]

    /// True when `bytes` starts with a local file header, as every non-empty zip file does.
    static func isZip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    init(path: String, bytes: [UInt8]) throws {
        self.path = path
        self.bytes = bytes
        let reader = ByteReader(bytes: bytes, file: path, context: "zip")
        let eocd = try Self.findEndOfCentralDirectory(bytes, path)
        var count = Int(try reader.u16(eocd + 10))
        var cdSize = Int(try reader.u32(eocd + 12))
        var cdOffset = Int(try reader.u32(eocd + 16))
        // ZIP64: a locator just before the classic record points at the 64-bit record.
        let locator = eocd - 20
        if locator >= 0, try reader.u32(locator) == 0x0706_4B50 {
            let record = try reader.int(u64At: locator + 8)
            guard try reader.u32(record) == 0x0606_4B50 else {
                throw FileError(path, "zip: no ZIP64 end record at byte \(record)")
            }
            count = try reader.int(u64At: record + 32)
            cdSize = try reader.int(u64At: record + 40)
            cdOffset = try reader.int(u64At: record + 48)
        } else if count == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            throw FileError(path, "zip: ZIP64 sizes without a ZIP64 locator (byte \(eocd))")
        }
        guard cdOffset <= bytes.count, cdSize <= bytes.count - cdOffset, count <= cdSize / 46 + 1 else {
            throw FileError(path, "zip: central directory (\(count) entries, \(cdSize) bytes at byte \(cdOffset)) lies outside the file (\(bytes.count) bytes)")
        }
        let cdEnd = cdOffset + cdSize
        var entries: [Entry] = []
        var index: [String: Int] = [:]
        var at = cdOffset
        for number in 0..<count {
            guard at <= cdEnd - 46, try reader.u32(at) == 0x0201_4B50 else {
                throw FileError(path, "zip: bad central directory record \(number) of \(count) at byte \(at)")
            }
            let flags = try reader.u16(at + 8)
            let method = try reader.u16(at + 10)
            let crc = try reader.u32(at + 16)
            var compressed = Int(try reader.u32(at + 20))
            var size = Int(try reader.u32(at + 24))
            let nameLength = Int(try reader.u16(at + 28))
            let extraLength = Int(try reader.u16(at + 30))
            let commentLength = Int(try reader.u16(at + 32))
            var local = Int(try reader.u32(at + 42))
            let next = at + 46 + nameLength + extraLength + commentLength
            guard next <= cdEnd else {
                throw FileError(path, "zip: central directory record \(number) at byte \(at) runs past the directory's end")
            }
            let name = String(decoding: try reader.slice(at + 46, nameLength), as: UTF8.self)
            if flags & 1 != 0 { throw FileError(path, "zip entry \(name) is encrypted, which is not supported") }
            // ZIP64 extra field (id 1): 64-bit values for exactly the fields saturated above, in order.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = try reader.u16(extra), length = Int(try reader.u16(extra + 2))
                let body = extra + 4
                guard length <= extraEnd - body else { break }
                if id == 0x0001 {
                    var field = body
                    func take() throws -> Int {
                        guard field + 8 <= body + length else { throw FileError(path, "zip entry \(name): short ZIP64 extra field") }
                        defer { field += 8 }
                        return try reader.int(u64At: field)
                    }
                    if size == 0xFFFF_FFFF { size = try take() }
                    if compressed == 0xFFFF_FFFF { compressed = try take() }
                    if local == 0xFFFF_FFFF { local = try take() }
                }
                extra = body + length
            }
            if index[name] == nil { index[name] = entries.count }
            entries.append(Entry(name: name, method: method, crc: crc, compressedSize: compressed, size: size, localHeaderOffset: local))
            at = next
        }
        self.entries = entries
        self.index = index
    }

    private static func findEndOfCentralDirectory(_ bytes: [UInt8], _ path: String) throws -> Int {
        guard bytes.count >= 22 else { throw FileError(path, "not a zip archive: file too short (\(bytes.count) bytes)") }
        // The record is 22 bytes plus a comment of at most 65535 bytes at the very end.
        let lowest = max(0, bytes.count - 22 - 0xFFFF)
        var i = bytes.count - 22
        while i >= lowest {
            if bytes[i] == 0x50 && bytes[i + 1] == 0x4B && bytes[i + 2] == 0x05 && bytes[i + 3] == 0x06 { return i }
            i -= 1
        }
        throw FileError(path, "not a zip archive: no end-of-central-directory record (truncated file?)")
    }

    func entry(named name: String) -> Entry? { index[name].map { entries[$0] } }

    /// The uncompressed bytes of `entry`. Stored entries are slices of the archive (storages of
    /// a checkpoint share its bytes instead of being copied).
    func contents(of entry: Entry) throws -> ArraySlice<UInt8> {
        switch try extract(entry) {
        case .stored(let slice): return slice
        case .inflated(let data): return ArraySlice(data)
        }
    }

    /// The uncompressed bytes of `entry` as `Data`, for readers that parse `Data`.
    func data(of entry: Entry) throws -> Data {
        switch try extract(entry) {
        case .stored(let slice): return Data(slice)
        case .inflated(let data): return data
        }
    }

    private enum Extracted {
        case stored(ArraySlice<UInt8>)
        case inflated(Data)
    }

    /// Checks the local header, inflates deflated entries and verifies the CRC-32.
    private func extract(_ entry: Entry) throws -> Extracted {
        let reader = ByteReader(bytes: bytes, file: path, context: "zip entry \(entry.name)")
        let at = entry.localHeaderOffset
        guard try reader.u32(at) == 0x0403_4B50 else {
            throw FileError(path, "zip entry \(entry.name): no local header at byte \(at)")
        }
        let start = at + 30 + Int(try reader.u16(at + 26)) + Int(try reader.u16(at + 28))
        let raw = try reader.slice(start, entry.compressedSize)
        let result: Extracted
        switch entry.method {
        case 0:
            guard entry.compressedSize == entry.size else {
                throw FileError(path, "zip entry \(entry.name): stored size \(entry.compressedSize) differs from size \(entry.size)")
            }
            result = .stored(raw)
        case 8:
            do {
                result = .inflated(try Gzip.inflateRaw(Data(raw), expectedSize: entry.size, file: path))
            } catch let e as FileError {
                throw FileError(path, "zip entry \(entry.name): \(e.problem)")
            }
        default:
            throw FileError(path, "zip entry \(entry.name): unsupported compression method \(entry.method) (only stored and deflate)")
        }
        let crc: UInt32
        switch result {
        case .stored(let slice): crc = slice.withUnsafeBytes(Self.crc32)
        case .inflated(let data): crc = data.withUnsafeBytes(Self.crc32)
        }
        guard crc == entry.crc else {
            throw FileError(path, "zip entry \(entry.name): CRC-32 mismatch (stored \(String(entry.crc, radix: 16)), computed \(String(crc, radix: 16)); corrupt file)")
        }
        return result
    }

    /// zlib's CRC-32, fed in pieces because its length argument is 32-bit.
    static func crc32(_ buffer: UnsafeRawBufferPointer) -> UInt32 {
        var c: uLong = CZlib.crc32(0, nil, 0)
        var p = buffer.bindMemory(to: Bytef.self).baseAddress, left = buffer.count
        while left > 0, let q = p {
            let n = min(left, Int(UInt32.max))
            c = CZlib.crc32(c, q, uInt(n))
            p = q + n
            left -= n
        }
        return UInt32(truncatingIfNeeded: c)
    }
}
