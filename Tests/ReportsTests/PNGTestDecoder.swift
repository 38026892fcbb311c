import CZlib
import Foundation
import XCTest

/// A minimal PNG reader for the tests (8-bit, non-interlaced): checks the signature and every
/// chunk CRC, inflates the IDAT data with zlib and undoes the scanline filters.
struct DecodedPNG {
    var width = 0
    var height = 0
    var colorType: UInt8 = 0
    var channels = 0
    var filters: [UInt8] = []
    var pixels: [UInt8] = []
    var chunkTypes: [String] = []

    enum Failure: Error { case bad(String) }

    init(_ data: Data) throws {
        let b = [UInt8](data)
        guard b.count > 8, Array(b[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] else { throw Failure.bad("signature") }
        var p = 8
        var idat: [UInt8] = []
        func u32(_ at: Int) -> UInt32 { UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3]) }
        while p + 12 <= b.count {
            let length = Int(u32(p))
            guard p + 12 + length <= b.count else { throw Failure.bad("chunk length") }
            let typeAndBody = Array(b[(p + 4)..<(p + 8 + length)])
            let type = String(decoding: typeAndBody[0..<4], as: UTF8.self)
            let crc = typeAndBody.withUnsafeBufferPointer { UInt32(crc32(0, $0.baseAddress, uInt($0.count))) }
            guard crc == u32(p + 8 + length) else { throw Failure.bad("CRC of \(type)") }
            chunkTypes.append(type)
            let body = Array(typeAndBody[4...])
            if type == "IHDR" {
                width = Int(u32(p + 8)); height = Int(u32(p + 12))
                guard body.count == 13, body[8] == 8, body[10] == 0, body[11] == 0, body[12] == 0 else { throw Failure.bad("IHDR fields \(body)") }
                colorType = body[9]
                channels = [0: 1, 2: 3, 6: 4][colorType] ?? 0
            } else if type == "IDAT" {
                idat += body
            }
            p += 12 + length
        }
        guard p == b.count, chunkTypes.first == "IHDR", chunkTypes.last == "IEND", channels > 0 else { throw Failure.bad("structure \(chunkTypes)") }
        let rowBytes = width * channels
        var rawSize = uLong(height * (rowBytes + 1))
        var raw = [UInt8](repeating: 0, count: Int(rawSize))
        let status = raw.withUnsafeMutableBufferPointer { r in
            idat.withUnsafeBufferPointer { uncompress(r.baseAddress, &rawSize, $0.baseAddress, uLong($0.count)) }
        }
        guard status == Z_OK, Int(rawSize) == raw.count else { throw Failure.bad("inflate status \(status), \(rawSize) bytes") }
        var previous = [UInt8](repeating: 0, count: rowBytes)
        for y in 0..<height {
            let o = y * (rowBytes + 1)
            let filter = raw[o]
            filters.append(filter)
            var row = Array(raw[(o + 1)..<(o + 1 + rowBytes)])
            for i in 0..<rowBytes {
                let a = i >= channels ? Int(row[i - channels]) : 0
                let up = Int(previous[i])
                let c = i >= channels ? Int(previous[i - channels]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = a
                case 2: predictor = up
                case 3: predictor = (a + up) / 2
                case 4:
                    let pa = abs(up - c), pb = abs(a - c), pc = abs(a + up - 2 * c)
                    predictor = pa <= pb && pa <= pc ? a : (pb <= pc ? up : c)
                default: throw Failure.bad("filter \(filter)")
                }
                row[i] = row[i] &+ UInt8(predictor & 0xff)
            }
            pixels += row
            previous = row
        }
    }
}
