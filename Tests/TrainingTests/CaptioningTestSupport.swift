import Foundation
import XCTest
@testable import Training

/// Shared helpers for the Q3 tests: temporary folders, a minimal TIFF writer, the
/// repository's graphs and the shared Sydney-Captions folder (tests needing it skip without it).
enum Q3Support {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var sharedData: String { repository.deletingLastPathComponent().appendingPathComponent("shared/data/sydney-captions").path }

    static func graphSource(_ name: String) throws -> String {
        try String(contentsOf: repository.appendingPathComponent("graphs/\(name)"), encoding: .utf8)
    }

    /// An uncompressed, chunky 8-bit RGB baseline TIFF (one strip), little-endian.
    static func tiff(width: Int, height: Int, pixels: [UInt8]) -> Data {
        var d = Data()
        func u16(_ v: Int) { d.append(UInt8(v & 0xFF)); d.append(UInt8(v >> 8 & 0xFF)) }
        func u32(_ v: Int) { u16(v & 0xFFFF); u16(v >> 16 & 0xFFFF) }
        let entries = 10
        let ifd = 8
        let bitsOffset = ifd + 2 + entries * 12 + 4
        let dataOffset = bitsOffset + 6
        d.append(contentsOf: Array("II".utf8)); u16(42); u32(ifd)
        u16(entries)
        func entry(_ tag: Int, _ type: Int, _ count: Int, _ value: Int) {
            u16(tag); u16(type); u32(count)
            if type == 3 && count == 1 { u16(value); u16(0) } else { u32(value) }
        }
        entry(256, 3, 1, width)                 // ImageWidth
        entry(257, 3, 1, height)                // ImageLength
        entry(258, 3, 3, bitsOffset)            // BitsPerSample 8,8,8
        entry(259, 3, 1, 1)                     // no compression
        entry(262, 3, 1, 2)                     // RGB
        entry(273, 4, 1, dataOffset)            // StripOffsets
        entry(277, 3, 1, 3)                     // SamplesPerPixel
        entry(278, 3, 1, height)                // RowsPerStrip
        entry(279, 4, 1, pixels.count)          // StripByteCounts
        entry(284, 3, 1, 1)                     // chunky
        u32(0)
        u16(8); u16(8); u16(8)
        d.append(contentsOf: pixels)
        return d
    }
}

extension XCTestCase {
    /// A fresh folder removed when the test ends.
    func temporaryDirectory(_ name: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}
