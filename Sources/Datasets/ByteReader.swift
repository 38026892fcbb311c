import GraphIR

/// Bounds-checked reads of unsigned integers from a file's bytes, little-endian (zip records,
/// pickles, NPY headers) or big-endian (IDX headers, pickled floats); every failure names the
/// file, the part being read and the byte offset.
struct ByteReader {
    let bytes: [UInt8]
    let file: String
    /// What is being read, e.g. `zip entry model/data.pkl`; it starts every message.
    let context: String

    func fail(_ offset: Int, _ what: String) -> FileError {
        FileError(file, "\(context), byte \(offset): \(what)")
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

    func bigEndianUnsigned(_ offset: Int, _ width: Int) throws -> UInt64 {
        try slice(offset, width).reduce(0) { $0 << 8 | UInt64($1) }
    }

    func u16(_ offset: Int) throws -> UInt16 { UInt16(try unsigned(offset, 2)) }
    func u32(_ offset: Int) throws -> UInt32 { UInt32(try unsigned(offset, 4)) }

    /// A u64 that must fit an Int (sizes and offsets).
    func int(u64At offset: Int) throws -> Int {
        let v = try unsigned(offset, 8)
        guard v <= UInt64(Int.max) else { throw fail(offset, "64-bit value \(v) is too large") }
        return Int(v)
    }
}
