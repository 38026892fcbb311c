import Foundation
import XCTest
@testable import Reports

final class PNGTests: XCTestCase {
    func sample() -> Image {
        var img = Image(width: 7, height: 5, fill: Color(10, 20, 30))
        for y in 0..<5 { for x in 0..<7 { img.set(x, y, Color(UInt8(x * 30), UInt8(y * 50), UInt8((x * y) % 256), UInt8(255 - x * y))) } }
        return img
    }

    func testRGBRoundTrip() throws {
        let img = sample()
        let png = try DecodedPNG(PNG.encode(img, format: .rgb8))
        XCTAssertEqual([png.width, png.height, Int(png.colorType)], [7, 5, 2])
        XCTAssertEqual(png.chunkTypes, ["IHDR", "IDAT", "IEND"])
        XCTAssertEqual(png.filters, [0, 2, 2, 2, 2])
        var expected: [UInt8] = []
        for i in stride(from: 0, to: img.rgba.count, by: 4) { expected += img.rgba[i..<(i + 3)] }
        XCTAssertEqual(png.pixels, expected)
    }

    func testRGBAAndGrayRoundTrip() throws {
        let img = sample()
        let rgba = try DecodedPNG(PNG.encode(img, format: .rgba8))
        XCTAssertEqual(rgba.colorType, 6)
        XCTAssertEqual(rgba.pixels, img.rgba)
        let gray = try DecodedPNG(PNG.encode(img, format: .gray8))
        XCTAssertEqual(gray.colorType, 0)
        XCTAssertEqual(gray.pixels, stride(from: 0, to: img.rgba.count, by: 4).map { img.rgba[$0] })
    }

    func testLargeFlatImageCompresses() throws {
        let data = try PNG.encode(Image(width: 800, height: 500, fill: .white))
        XCTAssertLessThan(data.count, 4000)
        let png = try DecodedPNG(data)
        XCTAssertTrue(png.pixels.allSatisfy { $0 == 255 })
        XCTAssertEqual(png.pixels.count, 800 * 500 * 3)
    }

    func testEmptyImageIsAnError() {
        XCTAssertThrowsError(try PNG.encode(Image(width: 0, height: 3))) { e in
            XCTAssertTrue("\(e)".contains("0x3"), "\(e)")
        }
    }

    func testWriteIsAtomicAndNamesPathOnFailure() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-png-\(UUID().uuidString)")
        let path = dir.appendingPathComponent("sub/plot.png").path
        try PNG.write(sample(), to: path)
        XCTAssertEqual(try DecodedPNG(Data(contentsOf: URL(fileURLWithPath: path))).width, 7)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("sub").path), ["plot.png"])
        // A regular file where a directory is needed: the error names the target.
        let blocked = dir.appendingPathComponent("sub/plot.png/inner.png").path
        XCTAssertThrowsError(try PNG.write(sample(), to: blocked)) { e in
            XCTAssertTrue("\(e)".contains(blocked), "\(e)")
        }
        try? FileManager.default.removeItem(at: dir)
    }
}
