import CZlib
import Foundation
import GraphIR

/// PNG encoding (8-bit RGB, RGBA or grey), one IDAT chunk compressed by zlib.
public enum PNG {
    public enum Format: Sendable {
        case rgb8, rgba8, gray8

        var colorType: UInt8 {
            switch self {
            case .gray8: return 0
            case .rgb8: return 2
            case .rgba8: return 6
            }
        }

        var channels: Int {
            switch self {
            case .gray8: return 1
            case .rgb8: return 3
            case .rgba8: return 4
            }
        }
    }

    /// The PNG bytes of `image`. Grey output takes the red channel (callers draw grey in all
    /// three); RGB output drops alpha, so draw on an opaque background.
    public static func encode(_ image: Image, format: Format = .rgb8) throws -> Data {
        guard image.width > 0, image.height > 0 else {
            throw FileError("<png>", "cannot encode an empty \(image.width)x\(image.height) image (PNG needs at least 1x1)")
        }
        let channels = format.channels
        let rowBytes = image.width * channels
        // Each scanline starts with its filter type. Filter "Up" (2) on all rows after the first
        // compresses plots (long flat runs down the image) well and is trivial to apply.
        var raw = [UInt8](repeating: 0, count: image.height * (rowBytes + 1))
        var previous = [UInt8](repeating: 0, count: rowBytes)
        var current = [UInt8](repeating: 0, count: rowBytes)
        for y in 0..<image.height {
            for x in 0..<image.width {
                let s = (y * image.width + x) * 4
                let d = x * channels
                switch format {
                case .gray8:
                    current[d] = image.rgba[s]
                case .rgb8:
                    current[d] = image.rgba[s]; current[d + 1] = image.rgba[s + 1]; current[d + 2] = image.rgba[s + 2]
                case .rgba8:
                    current[d] = image.rgba[s]; current[d + 1] = image.rgba[s + 1]
                    current[d + 2] = image.rgba[s + 2]; current[d + 3] = image.rgba[s + 3]
                }
            }
            let o = y * (rowBytes + 1)
            let filter: UInt8 = y == 0 ? 0 : 2
            raw[o] = filter
            for i in 0..<rowBytes {
                raw[o + 1 + i] = filter == 0 ? current[i] : current[i] &- previous[i]
            }
            swap(&previous, &current)
        }

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = bigEndian(UInt32(image.width)) + bigEndian(UInt32(image.height))
        header += [8, format.colorType, 0, 0, 0]  // bit depth, colour type, deflate, adaptive filters, no interlace
        appendChunk("IHDR", header, to: &png)
        appendChunk("IDAT", try zlibCompress(raw), to: &png)
        appendChunk("IEND", [], to: &png)
        return Data(png)
    }

    /// Encodes and writes atomically (temporary file + rename).
    public static func write(_ image: Image, to path: String, format: Format = .rgb8) throws {
        let data: Data
        do { data = try encode(image, format: format) } catch let e as FileError { throw FileError(path, e.problem) }
        do {
            try AtomicFile.write(data, to: URL(fileURLWithPath: path))
        } catch {
            throw FileError(path, "cannot write PNG: \(error.localizedDescription)")
        }
    }

    static func zlibCompress(_ input: [UInt8]) throws -> [UInt8] {
        var size = compressBound(uLong(input.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        let status = out.withUnsafeMutableBufferPointer { o in
            input.withUnsafeBufferPointer { i in
                compress2(o.baseAddress, &size, i.baseAddress, uLong(i.count), 9)
            }
        }
        guard status == Z_OK else { throw FileError("<png>", "zlib compress2 failed with status \(status)") }
        return Array(out[0..<Int(size)])
    }

    static func crc(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
    }

    private static func appendChunk(_ type: String, _ body: [UInt8], to png: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        png += bigEndian(UInt32(body.count))
        png += typeBytes
        png += body
        png += bigEndian(crc(typeBytes + body))
    }

    private static func bigEndian(_ v: UInt32) -> [UInt8] {
        [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)]
    }
}
