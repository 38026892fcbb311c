import Foundation
import XCTest
@testable import Datasets

final class TiffImageTests: XCTestCase {
    typealias F = CaptioningTestFiles

    func pixel(_ img: (width: Int, height: Int, pixels: [UInt8]), _ row: Int, _ col: Int) -> [Int] {
        let i = 3 * (row * img.width + col)
        return img.pixels[i..<(i + 3)].map(Int.init)
    }

    func channelSums(_ pixels: [UInt8]) -> [Int] {
        var s = [0, 0, 0]
        for (i, p) in pixels.enumerated() { s[i % 3] += Int(p) }
        return s
    }

    /// Expected values come from an independent PackBits decode of the uncompressed-RGB strips
    /// (a few lines of Python over the raw TIFF bytes, no libtiff).
    func testPackBitsOriginalsDecodeExactly() throws {
        guard let dir = F.sydneyDirectory(#function) else { return }
        let one = try TiffImage.readRGB(path: "\(dir)/originals/1.tif")
        XCTAssertEqual(one.width, 500)
        XCTAssertEqual(one.height, 500)
        XCTAssertEqual(one.pixels.count, 500 * 500 * 3)
        XCTAssertEqual(pixel(one, 0, 0), [66, 92, 83])
        XCTAssertEqual(pixel(one, 0, 499), [114, 125, 109])
        XCTAssertEqual(pixel(one, 499, 0), [103, 109, 99])
        XCTAssertEqual(pixel(one, 250, 123), [180, 165, 144])
        XCTAssertEqual(channelSums(one.pixels), [26976826, 29160592, 25597723])
        let img219 = try TiffImage.readRGB(path: "\(dir)/originals/219.tif")
        XCTAssertEqual(pixel(img219, 499, 0), [113, 147, 114])
        XCTAssertEqual(channelSums(img219.pixels), [34035233, 34316928, 30178408])
    }

    func testJPEGCompressedImagesAreCloseToTheirOriginals() throws {
        guard let dir = F.sydneyDirectory(#function) else { return }
        let originals = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/originals").filter { $0.hasSuffix(".tif") }.sorted()
        XCTAssertEqual(originals.count, 5)
        for name in originals {
            let a = try TiffImage.readRGB(path: "\(dir)/originals/\(name)")
            let b = try TiffImage.readRGB(path: "\(dir)/images/\(name)")
            XCTAssertEqual(b.width, 500)
            XCTAssertEqual(b.height, 500)
            XCTAssertEqual(a.pixels.count, b.pixels.count)
            var diff = 0
            for (x, y) in zip(a.pixels, b.pixels) { diff += abs(Int(x) - Int(y)) }
            let mean = Double(diff) / Double(a.pixels.count)
            XCTAssertLessThan(mean, 4, "\(name): mean abs difference \(mean)")
            print("TiffImageTests: \(name) JPEG vs PackBits mean abs difference \(mean)")
            XCTAssertGreaterThan(mean, 0, "\(name): JPEG re-encoding is lossy, identical pixels mean a wrong file")
        }
    }

    func testEveryDatasetImageDecodesTo500x500() throws {
        guard let dir = F.sydneyDirectory(#function) else { return }
        for n in stride(from: 1, through: 613, by: 61) {
            let img = try TiffImage.readRGB(path: "\(dir)/images/\(n).tif")
            XCTAssertEqual([img.width, img.height], [500, 500], "\(n).tif")
        }
    }

    func testNormalisationMatchesToTensorThenNormalize() {
        let pixels: [UInt8] = [0, 128, 255, 255, 0, 10]  // 1x2 image
        let v = TiffImage.normalizedCHW(width: 2, height: 1, pixels: pixels)
        XCTAssertEqual(v.count, 6)
        let expect: (UInt8, Int) -> Float = { p, c in (Float(p) / 255 - TiffImage.imageNetMean[c]) / TiffImage.imageNetStd[c] }
        XCTAssertEqual(v, [expect(0, 0), expect(255, 0), expect(128, 1), expect(0, 1), expect(255, 2), expect(10, 2)])
        XCTAssertEqual(v[0], -2.117904, accuracy: 1e-5)
        XCTAssertEqual(v[5], (10.0 / 255 - 0.406) / 0.225, accuracy: 1e-5)
    }

    func testCorruptFilesThrowNamingTheFile() throws {
        let tmp = try F.tempDirectory(self)
        var gen = SystemRandomNumberGenerator()
        let random = tmp.appendingPathComponent("random.tif")
        try Data((0..<4096).map { _ in UInt8.random(in: 0...255, using: &gen) }).write(to: random)
        F.assertFileError(try TiffImage.readRGB(path: random.path), file: random.path, contains: "not a readable TIFF")

        let empty = tmp.appendingPathComponent("empty.tif")
        try Data().write(to: empty)
        F.assertFileError(try TiffImage.readRGB(path: empty.path), file: empty.path, contains: "not a readable TIFF")

        let text = tmp.appendingPathComponent("notes.tif")
        try Data("just some text, not an image\n".utf8).write(to: text)
        F.assertFileError(try TiffImage.readRGB(path: text.path), file: text.path, contains: "libtiff")

        let png = tmp.appendingPathComponent("picture.tif")
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)).write(to: png)
        F.assertFileError(try TiffImage.readRGB(path: png.path), file: png.path, contains: "not a readable TIFF")

        let missing = tmp.appendingPathComponent("missing.tif").path
        F.assertFileError(try TiffImage.readRGB(path: missing), file: missing, contains: "no such file")

        guard let dir = F.sydneyDirectory(#function) else { return }
        for source in ["images/219.tif", "originals/219.tif"] {
            let whole = try Data(contentsOf: URL(fileURLWithPath: "\(dir)/\(source)"))
            for fraction in [0.5, 0.05] {
                let cut = tmp.appendingPathComponent("cut-\(fraction)-\((source as NSString).lastPathComponent)")
                try whole.prefix(Int(Double(whole.count) * fraction)).write(to: cut)
                F.assertFileError(try TiffImage.readRGB(path: cut.path), file: cut.path, contains: "not a readable TIFF")
            }
            // Directory intact but strip data zeroed: the decoder (libjpeg / PackBits) must fail.
            var damaged = whole
            for i in (whole.count / 3)..<(whole.count / 2) { damaged[i] = 0 }
            let bad = tmp.appendingPathComponent("damaged-\((source as NSString).lastPathComponent)")
            try damaged.write(to: bad)
            F.assertFileError(try TiffImage.readRGB(path: bad.path), file: bad.path, contains: "cannot decode the 500x500 image (libtiff: ")
        }
    }
}
