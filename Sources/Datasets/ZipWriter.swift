import Foundation
import GraphIR

/// Writes an uncompressed (stored) zip archive laid out as Python's `zipfile` writes the
/// entries of `numpy.savez`: each local header carries ZIP64 sizes (numpy forces them), dated
/// 1980-01-01 00:00 (zipfile's default), mode 0600, and a classic end record. Archives of 4 GiB
/// or more would need ZIP64 directory records, which this writer refuses rather than writes.
enum ZipWriter {
    static func storedArchive(_ entries: [(name: String, content: Data)], file: String) throws -> Data {
        var out = Data()
        var directory = Data()
        for entry in entries {
            let name = Array(entry.name.utf8)
            guard !name.isEmpty, name.count <= Int(UInt16.max) else { throw FileError(file, "zip entry name '\(entry.name)' is empty or too long") }
            let offset = out.count
            let crc = entry.content.withUnsafeBytes(ZipArchive.crc32)
            let size = UInt64(entry.content.count)
            // Local header: version 4.5 (ZIP64), no flags, stored, time 0, date 1980-01-01.
            out += le32(0x0403_4B50) + le16(45) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(crc)
            out += le32(0xFFFF_FFFF) + le32(0xFFFF_FFFF) + le16(name.count) + le16(20) + name
            out += le16(1) + le16(16) + le64(size) + le64(size)
            out += entry.content
            guard out.count < 0xFFFF_FFFF else {
                throw FileError(file, "the archive would exceed 4 GiB (at entry '\(entry.name)'); graphc writes .npz files smaller than that")
            }
            // Central directory record: made by Unix (3) zip 4.5, external attributes -rw-------.
            directory += le32(0x0201_4B50) + le16(0x032D) + le16(45) + le16(0) + le16(0) + le16(0) + le16(0x21) + le32(crc)
            directory += le32(UInt32(size)) + le32(UInt32(size)) + le16(name.count) + le16(0) + le16(0) + le16(0) + le16(0)
            directory += le32(0o600 << 16) + le32(UInt32(offset)) + name
        }
        let directoryOffset = out.count
        out += directory
        guard out.count < 0xFFFF_FFFF, entries.count < 0xFFFF else {
            throw FileError(file, "the archive would exceed 4 GiB or 65,535 entries; graphc writes .npz files smaller than that")
        }
        out += le32(0x0605_4B50) + le16(0) + le16(0) + le16(entries.count) + le16(entries.count)
        out += le32(UInt32(directory.count)) + le32(UInt32(directoryOffset)) + le16(0)
        return out
    }

    private static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    private static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * UInt32($0))) } }
    private static func le64(_ v: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
}
