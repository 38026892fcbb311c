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
        var data = try readFile(path)
        if Gzip.isGzip(data) { data = try Gzip.decompress(data, file: path) }
        return try parse(data, file: path, expectedRank: expectedRank)
    }

    public static func parse(_ data: Data, file: String, expectedRank: Int? = nil) throws -> IDXArray {
        let bytes = [UInt8](data)
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

    private static func hex8(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 8 - s.count)) + s
    }
}
