import Foundation
import GraphIR
import XCTest
@testable import Reports

final class PNGTests: XCTestCase {
    func sample(alpha: Bool) -> Image {
        var img = Image(width: 7, height: 5, fill: Color(10, 20, 30))
        for y in 0..<5 { for x in 0..<7 {
            img.set(x, y, Color(UInt8(x * 30), UInt8(y * 50), UInt8((x * y * 37) % 256), alpha ? UInt8(255 - x * y * 8) : 255))
        } }
        return img
    }

    func testOpaqueImagesAreRGBAndExact() throws {
        let img = sample(alpha: false)
        let png = try DecodedPNG(PNG.encode(img))
        XCTAssertEqual([png.width, png.height, Int(png.colorType)], [7, 5, 2])
        XCTAssertEqual(png.chunkTypes.first, "IHDR")
        XCTAssertEqual(png.chunkTypes.last, "IEND")
        var expected: [UInt8] = []
        for i in stride(from: 0, to: img.rgba.count, by: 4) { expected += img.rgba[i..<(i + 3)] }
        XCTAssertEqual(png.pixels, expected)
    }

    func testTranslucentImagesKeepTheirAlpha() throws {
        let img = sample(alpha: true)
        let png = try DecodedPNG(PNG.encode(img))
        XCTAssertEqual(png.colorType, 6)
        XCTAssertEqual(png.pixels.count, img.rgba.count)
        // cairo stores premultiplied colour, so colour comes back within one step of alpha
        // (the lower the alpha, the coarser); alpha itself is exact.
        for i in 0..<img.rgba.count {
            let alpha = Double(img.rgba[i | 3])
            XCTAssertEqual(Double(png.pixels[i]), Double(img.rgba[i]), accuracy: i % 4 == 3 ? 0 : 255 / alpha, "byte \(i)")
        }
    }

    func testLargeFlatImageCompresses() throws {
        let data = try PNG.encode(Image(width: 640, height: 480, fill: .white))
        XCTAssertLessThan(data.count, 4000)
        let png = try DecodedPNG(data)
        XCTAssertTrue(png.pixels.allSatisfy { $0 == 255 })
        XCTAssertEqual(png.pixels.count, 640 * 480 * 3)
    }

    func testEmptyImageIsAnError() {
        XCTAssertThrowsError(try PNG.encode(Image(width: 0, height: 3))) { e in
            XCTAssertTrue("\(e)".contains("0x3"), "\(e)")
        }
        XCTAssertThrowsError(try PNG.write(Image(width: 3, height: 0), to: "/tmp/graphc-never-written.png")) { e in
            XCTAssertEqual((e as? FileError)?.file, "/tmp/graphc-never-written.png", "\(e)")
        }
    }

    func testWriteIsAtomicAndNamesPathOnFailure() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-png-\(UUID().uuidString)")
        let path = dir.appendingPathComponent("sub/plot.png").path
        try PNG.write(sample(alpha: false), to: path)
        XCTAssertEqual(try DecodedPNG(Data(contentsOf: URL(fileURLWithPath: path))).width, 7)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("sub").path), ["plot.png"])
        // A regular file where a directory is needed: the error names the target.
        let blocked = dir.appendingPathComponent("sub/plot.png/inner.png").path
        XCTAssertThrowsError(try PNG.write(sample(alpha: false), to: blocked)) { e in
            XCTAssertTrue("\(e)".contains(blocked), "\(e)")
        }
        try? FileManager.default.removeItem(at: dir)
    }
}
