import GraphIR
import Foundation

/// An array read from an IDX file (the MNIST format): unsigned bytes and their dimensions.
public struct IDXArray: Equatable {
    public var dims: [Int]
    public var bytes: [UInt8]
}

/// Reader for IDX files holding unsigned bytes (`.gz` compressed or plain).
/// Layout: 2 zero bytes, type code (0x08 = u8), number of dimensions, then each dimension as a
/// big-endian u32, then the data in C order.
public enum IDXReader {
    /// Reads `path` (inflated when it is gzip) and checks it holds `expectedRank` dimensions.
    public static func read(path: String, expectedRank: Int? = nil) throws -> IDXArray {
        let data = try readFile(path)
        return try parse(Gzip.isGzip(data) ? try inflate(data, file: path) : data, file: path, expectedRank: expectedRank)
    }

    /// Inflates a gzip IDX file no further than its header's size: a gzip bomb is refused after
    /// at most that many bytes.
    static func inflate(_ data: Data, file: String) throws -> Data {
        let head = [UInt8](try Gzip.decompressPrefix(data, count: 4, file: file))
        let rank = head.count == 4 ? Int(head[3]) : 0
        let header = [UInt8](try Gzip.decompressPrefix(data, count: 4 + 4 * rank, file: file))
        guard let (_, total, headerSize) = try? shape(header, file: file) else {
            // A bad header: a damaged stream is the likelier cause, so its first megabyte is
            // inflated to report that; otherwise parse() names what is wrong with the header.
            do { _ = try Gzip.decompress(data, file: file, maxSize: 1 << 20) } catch let e as FileError where !e.problem.contains("inflates to more than") { throw e } catch {}
            return Data(header)
        }
        // Deflate cannot exceed its 1032:1 ratio, so a header larger than that only ends as a
        // truncation error: inflation itself never runs past what the header allows.
        let (size, overflow) = headerSize.addingReportingOverflow(total)
        return try Gzip.decompress(data, file: file, maxSize: overflow ? Int.max : size)
    }

    public static func parse(_ data: Data, file: String, expectedRank: Int? = nil) throws -> IDXArray {
        let bytes = [UInt8](data)
        let (dims, total, headerSize) = try shape(bytes, file: file, expectedRank: expectedRank)
        let found = bytes.count - headerSize
        let shapeText = dims.map(String.init).joined(separator: "x")
        if found < total {
            throw FileError(file, "truncated: header says \(shapeText) = \(total) bytes, found \(found)")
        }
        if found > total {
            throw FileError(file, "size mismatch: header says \(shapeText) = \(total) bytes, found \(found) (\(found - total) extra)")
        }
        return IDXArray(dims: dims, bytes: Array(bytes[headerSize...]))
    }

    /// The header's dimensions, their product (the data's size) and the header's size.
    static func shape(_ bytes: [UInt8], file: String, expectedRank: Int? = nil) throws -> (dims: [Int], total: Int, headerSize: Int) {
        guard bytes.count >= 4 else {
            throw FileError(file, "truncated: \(bytes.count) bytes, too short for an IDX header")
        }
        let header = ByteReader(bytes: bytes, file: file, context: "IDX header")
        let magic = UInt32(try header.bigEndianUnsigned(0, 4))
        guard bytes[0] == 0, bytes[1] == 0, bytes[2] == 0x08, bytes[3] >= 1 else {
            throw FileError(file, "bad magic number 0x\(hex8(magic)): expected 0x00000801 (labels) or 0x00000803 (images) for unsigned-byte IDX data")
        }
        let rank = Int(bytes[3])
        if let want = expectedRank, want != rank {
            throw FileError(file, "bad magic number 0x\(hex8(magic)): expected 0x\(hex8(0x0800 + UInt32(want))) (\(want) dimension\(want == 1 ? "" : "s")), found \(rank)")
        }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw FileError(file, "truncated: header needs \(headerSize) bytes, found \(bytes.count)")
        }
        var dims: [Int] = []
        var total = 1
        for d in 0..<rank {
            let n = Int(try header.bigEndianUnsigned(4 + 4 * d, 4))
            dims.append(n)
            let (product, overflow) = total.multipliedReportingOverflow(by: n)
            guard !overflow else { throw FileError(file, "dimensions \(dims) are too large") }
            total = product
        }
        return (dims, total, headerSize)
    }

    private static func hex8(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }
}
