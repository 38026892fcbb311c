import GraphIR
import CZlib
import Foundation

/// Inflation of gzip streams (`.gz` files) and raw deflate data (zip entries) through zlib.
public enum Gzip {
    /// True when `data` starts with the gzip magic bytes 1f 8b.
    public static func isGzip(_ data: Data) -> Bool {
        data.count >= 2 && data[data.startIndex] == 0x1f && data[data.startIndex + 1] == 0x8b
    }

    /// Deflate's best ratio is 1032:1, so `compressed` bytes never inflate to more than this:
    /// a declared size above it is a lie, refused before any memory is spent on it.
    public static func largestInflatedSize(compressed: Int) -> Int {
        let (product, overflow) = compressed.multipliedReportingOverflow(by: 1032)
        return overflow ? Int.max : product + 1024
    }

    /// Decompresses a gzip stream (several concatenated members are accepted, as gunzip does).
    /// `file` only names the source in errors. With `maxSize`, output beyond it is an error
    /// raised as soon as it is produced (a gzip bomb costs at most `maxSize` bytes).
    public static func decompress(_ data: Data, file: String = "<data>", maxSize: Int? = nil) throws -> Data {
        // 16 + MAX_WBITS: expect a gzip header and trailer (CRC and size are checked by zlib).
        try inflate(data, windowBits: 16 + MAX_WBITS, expectedSize: nil, maxSize: maxSize, prefix: nil, file: file, what: "gzip")
    }

    /// The first `count` decompressed bytes of a gzip stream (fewer if it is shorter), for
    /// reading a header that says how large the rest is.
    public static func decompressPrefix(_ data: Data, count: Int, file: String = "<data>") throws -> Data {
        try inflate(data, windowBits: 16 + MAX_WBITS, expectedSize: nil, maxSize: nil, prefix: count, file: file, what: "gzip")
    }

    /// Inflates raw deflate data (no header), as stored in zip entries. With `expectedSize`,
    /// output of another size is an error.
    public static func inflateRaw(_ data: Data, expectedSize: Int?, file: String = "<data>") throws -> Data {
        if let size = expectedSize, size > largestInflatedSize(compressed: data.count) {
            throw FileError(file, "bad deflate data: declares \(size) bytes, more than \(data.count) compressed bytes can hold")
        }
        return try inflate(data, windowBits: -MAX_WBITS, expectedSize: expectedSize, maxSize: expectedSize, prefix: nil, file: file, what: "deflate")
    }

    private static func inflate(_ input: Data, windowBits: Int32, expectedSize: Int?, maxSize: Int?, prefix: Int?,
                                file: String, what: String) throws -> Data {
        if input.isEmpty { throw FileError(file, "bad \(what) data: empty input") }
        var stream = z_stream()
        guard inflateInit2_(&stream, windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw FileError(file, "cannot initialise zlib")
        }
        defer { inflateEnd(&stream) }

        var output = Data()
        // Never reserve on a declared size alone: at most what the input can inflate to.
        let bound = largestInflatedSize(compressed: input.count)
        output.reserveCapacity(min(prefix ?? expectedSize ?? maxSize ?? input.count * 4, bound, 1 << 30))
        let chunk = 1 << 18
        var buffer = [UInt8](repeating: 0, count: chunk)
        let bytes = [UInt8](input)
        var consumed = 0
        var finished = false

        try bytes.withUnsafeBufferPointer { src in
            guard let base = src.baseAddress else { return }
            while true {
                stream.next_in = UnsafeMutablePointer(mutating: base + consumed)
                stream.avail_in = UInt32(min(bytes.count - consumed, Int(UInt32.max)))
                let inBefore = Int(stream.avail_in)
                let status: Int32 = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(chunk)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                consumed += inBefore - Int(stream.avail_in)
                let produced = chunk - Int(stream.avail_out)
                output.append(contentsOf: buffer[0..<produced])
                if let count = prefix, output.count >= count { finished = true; return }
                if let limit = maxSize, output.count > limit {
                    throw FileError(file, "bad \(what) data: inflates to more than the expected \(limit) bytes")
                }
                switch status {
                case Z_STREAM_END:
                    // A gzip file may hold several members; continue with the next one.
                    if windowBits > 0, consumed < bytes.count, bytes.count - consumed >= 2,
                       bytes[consumed] == 0x1f, bytes[consumed + 1] == 0x8b {
                        inflateReset(&stream)
                        continue
                    }
                    finished = true
                case Z_OK:
                    if produced == 0 && consumed >= bytes.count {
                        throw FileError(file, "truncated \(what) data: stream ends after \(output.count) bytes of output")
                    }
                    continue
                case Z_BUF_ERROR:
                    // No progress with a fresh output buffer: the input ran out mid-stream.
                    if consumed >= bytes.count || produced == 0 {
                        throw FileError(file, "truncated \(what) data: stream ends after \(output.count) bytes of output")
                    }
                    continue
                default:
                    let msg = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    throw FileError(file, "bad \(what) data: \(msg)")
                }
                break
            }
        }
        if let count = prefix { return output.prefix(count) }
        if !finished { throw FileError(file, "truncated \(what) data") }
        if let size = expectedSize, output.count != size {
            throw FileError(file, "bad \(what) data: inflated to \(output.count) bytes, expected \(size)")
        }
        return output
    }
}
