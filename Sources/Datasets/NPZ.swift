import CZlib
import Foundation

/// A `.npz` archive (what numpy.savez / savez_compressed write): a zip file whose entries are
/// `.npy` files. Entries may be stored or deflated; zip64 records (numpy forces them) are read.
public struct NPZArchive {
    public let path: String
    private let bytes: [UInt8]
    private let entries: [String: ZipEntry]

    /// Array names, i.e. entry names without the `.npy` suffix, in archive order.
    public let keys: [String]

    struct ZipEntry {
        var name: String
        var method: UInt16
        var crc: UInt32
        var compressedSize: Int
        var size: Int
        var localHeaderOffset: Int
    }

    public init(path: String) throws {
        try self.init(data: try readFile(path), path: path)
    }

    public init(data: Data, path: String) throws {
        self.path = path
        bytes = [UInt8](data)
        let list = try ZipDirectory.read(bytes, file: path)
        var map: [String: ZipEntry] = [:]
        var keys: [String] = []
        for e in list {
            let key = e.name.hasSuffix(".npy") ? String(e.name.dropLast(4)) : e.name
            if map[key] != nil { throw DataError(path, "duplicate entry '\(e.name)'") }
            map[key] = e
            keys.append(key)
        }
        entries = map
        self.keys = keys
    }

    /// The array stored under `key` (`Xtrain` reads entry `Xtrain.npy`).
    public func array(_ key: String) throws -> NPYArray {
        guard let entry = entries[key] else {
            throw DataError(path, "missing key '\(key)' (archive has: \(keys.joined(separator: ", ")))")
        }
        let content = try extract(entry)
        do {
            return try NPYReader.parse(content, file: path)
        } catch let e as DataError {
            throw DataError(path, "entry \(entry.name): \(e.problem)")
        }
    }

    private func extract(_ e: ZipEntry) throws -> Data {
        let at = e.localHeaderOffset
        guard at >= 0, at <= bytes.count - 30, readU32(bytes, at) == 0x04034b50 else {
            throw DataError(path, "entry \(e.name): local header missing at offset \(at)")
        }
        let nameLength = Int(readU16(bytes, at + 26))
        let extraLength = Int(readU16(bytes, at + 28))
        let start = at + 30 + nameLength + extraLength
        guard start <= bytes.count, e.compressedSize <= bytes.count - start else {
            throw DataError(path, "entry \(e.name): truncated: \(e.compressedSize) compressed bytes run past the end of the file")
        }
        let stored = Data(bytes[start..<(start + e.compressedSize)])
        let content: Data
        switch e.method {
        case 0:
            guard e.compressedSize == e.size else {
                throw DataError(path, "entry \(e.name): stored entry with compressed size \(e.compressedSize) != size \(e.size)")
            }
            content = stored
        case 8:
            do {
                content = try Gzip.inflateRaw(stored, expectedSize: e.size, file: path)
            } catch let err as DataError {
                throw DataError(path, "entry \(e.name): \(err.problem)")
            }
        default:
            throw DataError(path, "entry \(e.name): unsupported zip compression method \(e.method) (only stored and deflate)")
        }
        let crc = content.withUnsafeBytes { buf -> UInt32 in
            guard let base = buf.bindMemory(to: Bytef.self).baseAddress else { return UInt32(crc32(0, nil, 0)) }
            return UInt32(crc32(0, base, uInt(buf.count)))
        }
        guard crc == e.crc else {
            throw DataError(path, "entry \(e.name): CRC mismatch (stored \(String(e.crc, radix: 16)), computed \(String(crc, radix: 16)))")
        }
        return content
    }
}

/// Reading a zip file's central directory (the end-of-directory record, its zip64 variant and
/// the per-entry records with their zip64 extra fields).
enum ZipDirectory {
    static func read(_ b: [UInt8], file: String) throws -> [NPZArchive.ZipEntry] {
        // The end record is 22 bytes plus a comment of up to 65535 bytes, at the very end.
        guard b.count >= 22 else { throw DataError(file, "not a zip archive: \(b.count) bytes, too short") }
        var eocd = -1
        var p = b.count - 22
        let lowest = max(0, b.count - 22 - 65535)
        while p >= lowest {
            if readU32(b, p) == 0x06054b50 { eocd = p; break }
            p -= 1
        }
        guard eocd >= 0 else { throw DataError(file, "not a zip archive: end of central directory not found") }
        var count = Int(readU16(b, eocd + 10))
        var dirSize = Int(readU32(b, eocd + 12))
        var dirOffset = Int(readU32(b, eocd + 16))
        // Zip64: a locator just before the end record points at the zip64 end record.
        if eocd >= 20, readU32(b, eocd - 20) == 0x07064b50 {
            let z = Int(clamping: readU64(b, eocd - 12))
            guard z >= 0, z <= b.count - 56, readU32(b, z) == 0x06064b50 else {
                throw DataError(file, "bad zip64 end of central directory record")
            }
            count = Int(clamping: readU64(b, z + 32))
            dirSize = Int(clamping: readU64(b, z + 40))
            dirOffset = Int(clamping: readU64(b, z + 48))
        }
        guard dirOffset <= b.count, dirSize <= b.count - dirOffset else {
            throw DataError(file, "truncated zip archive: central directory at \(dirOffset) (+\(dirSize)) is past the end (\(b.count) bytes)")
        }
        var entries: [NPZArchive.ZipEntry] = []
        var q = dirOffset
        let end = dirOffset + dirSize
        for index in 0..<count {
            guard q <= end - 46, readU32(b, q) == 0x02014b50 else {
                throw DataError(file, "bad zip central directory: entry \(index) of \(count) missing")
            }
            let flags = readU16(b, q + 8)
            let method = readU16(b, q + 10)
            let crc = readU32(b, q + 16)
            var compressed = UInt64(readU32(b, q + 20))
            var size = UInt64(readU32(b, q + 24))
            let nameLength = Int(readU16(b, q + 28))
            let extraLength = Int(readU16(b, q + 30))
            let commentLength = Int(readU16(b, q + 32))
            var offset = UInt64(readU32(b, q + 42))
            let next = q + 46 + nameLength + extraLength + commentLength
            guard next <= end else { throw DataError(file, "bad zip central directory: entry \(index) runs past its end") }
            let name = String(decoding: b[(q + 46)..<(q + 46 + nameLength)], as: UTF8.self)
            if flags & 1 != 0 { throw DataError(file, "entry \(name): encrypted zip entries are not supported") }
            // Zip64 extra field (id 1): the 64-bit values, only for fields saturated at 0xFFFFFFFF.
            var e = q + 46 + nameLength
            let extraEnd = e + extraLength
            while e + 4 <= extraEnd {
                let id = readU16(b, e)
                let len = Int(readU16(b, e + 2))
                let body = e + 4
                guard body + len <= extraEnd else { break }
                if id == 1 {
                    var f = body
                    func take() throws -> UInt64 {
                        guard f + 8 <= body + len else { throw DataError(file, "entry \(name): short zip64 extra field") }
                        defer { f += 8 }
                        return readU64(b, f)
                    }
                    if size == 0xFFFF_FFFF { size = try take() }
                    if compressed == 0xFFFF_FFFF { compressed = try take() }
                    if offset == 0xFFFF_FFFF { offset = try take() }
                }
                e = body + len
            }
            guard size <= UInt64(Int.max), compressed <= UInt64(Int.max), offset <= UInt64(Int.max) else {
                throw DataError(file, "entry \(name): sizes out of range")
            }
            entries.append(.init(name: name, method: method, crc: crc, compressedSize: Int(compressed),
                                 size: Int(size), localHeaderOffset: Int(offset)))
            q = next
        }
        return entries
    }
}

func readU16(_ b: [UInt8], _ at: Int) -> UInt16 { UInt16(b[at]) | UInt16(b[at + 1]) << 8 }

func readU32(_ b: [UInt8], _ at: Int) -> UInt32 {
    UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
}

func readU64(_ b: [UInt8], _ at: Int) -> UInt64 { UInt64(readU32(b, at)) | UInt64(readU32(b, at + 4)) << 32 }
