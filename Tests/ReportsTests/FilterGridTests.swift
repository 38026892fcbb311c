import Foundation
import XCTest
@testable import Reports

final class FilterGridTests: XCTestCase {
    func testNormalisation() {
        let n = FilterGrid.normalised([-2, 0, 2, .nan])
        XCTAssertEqual(n[0], 0)
        XCTAssertEqual(n[1], 0.5)
        XCTAssertEqual(n[2], 1)
        XCTAssertNil(n[3])
        XCTAssertEqual(FilterGrid.normalised([3, 3]), [0.5, 0.5])
    }

    func testLayoutAndPixels() throws {
        // 16 kernels of 3x3: kernel k holds k at its centre and 0 elsewhere, except kernel 0
        // which is constant.
        var kernels = (0..<16).map { k -> [Float] in
            var v = [Float](repeating: 0, count: 9)
            v[4] = Float(k)
            return v
        }
        kernels[3] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let scale = 4, gap = 2
        let img = FilterGrid.render(kernels: kernels, kh: 3, kw: 3, perRow: 8, scale: scale, gap: gap)
        XCTAssertEqual(img.width, 8 * 3 * scale + 9 * gap)
        XCTAssertEqual(img.height, 2 * 3 * scale + 3 * gap)
        func cell(_ k: Int, _ r: Int, _ c: Int) -> Color? {
            img.pixel(gap + (k % 8) * (3 * scale + gap) + c * scale + 1, gap + (k / 8) * (3 * scale + gap) + r * scale + 1)
        }
        XCTAssertEqual(cell(0, 1, 1), Color(gray: 128), "constant kernel is mid grey")
        XCTAssertEqual(cell(9, 1, 1), .white)
        XCTAssertEqual(cell(9, 0, 0), .black)
        XCTAssertEqual(cell(3, 0, 0), .black)
        XCTAssertEqual(cell(3, 2, 2), .white)
        XCTAssertEqual(cell(3, 1, 1), Color(gray: 128))
        XCTAssertEqual(cell(3, 0, 1), Color(gray: 32))
        // Gaps have their own colour.
        XCTAssertEqual(img.pixel(0, 0), FilterGrid.gapColor)
        XCTAssertEqual(img.pixel(gap + 3 * scale, gap + 1), FilterGrid.gapColor)
        XCTAssertEqual(img.pixel(gap + 3 * scale - 1, 2 * gap + 3 * scale + 1), .black, "kernel 8 corner")
    }

    func testKernelsFromConvWeight() throws {
        // weight[o][i][r][c] = 1000 o + 100 i + 10 r + c, for 3 outputs, 2 inputs, 2x2 kernels.
        var w: [Float] = []
        for o in 0..<3 { for i in 0..<2 { for r in 0..<2 { for c in 0..<2 { w.append(Float(1000 * o + 100 * i + 10 * r + c)) } } } }
        let channel1 = try XCTUnwrap(FilterGrid.kernels(weight: w, outChannels: 3, inChannels: 2, kh: 2, kw: 2, inputChannel: 1))
        XCTAssertEqual(channel1, [[100, 101, 110, 111], [1100, 1101, 1110, 1111], [2100, 2101, 2110, 2111]])
        XCTAssertEqual(FilterGrid.kernels(weight: w, outChannels: 3, inChannels: 2, kh: 2, kw: 2)?[2], [2000, 2001, 2010, 2011])
        XCTAssertNil(FilterGrid.kernels(weight: w, outChannels: 3, inChannels: 2, kh: 2, kw: 2, inputChannel: 2))
        XCTAssertNil(FilterGrid.kernels(weight: w, outChannels: 4, inChannels: 2, kh: 2, kw: 2))
    }

    func testBadKernelsAreVisibleNotFatal() {
        let img = FilterGrid.render(kernels: [[1, 2], [1, .nan, 3, 4]], kh: 2, kw: 2, scale: 3, gap: 1)
        XCTAssertEqual(img.pixel(2, 2), Color(214, 39, 40))
        XCTAssertEqual(img.pixel(1 + 6 + 1 + 4, 2), Color(214, 39, 40), "NaN cell is red")
        XCTAssertEqual(img.pixel(1 + 6 + 1 + 1, 2), .black)
        let empty = FilterGrid.render(kernels: [], kh: 3, kw: 3)
        XCTAssertGreaterThan(empty.width, 0)
    }

    func testWritesHomeworkFilterGrid() throws {
        var seed: UInt64 = 42
        func next() -> Float {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Float(seed >> 40) / Float(1 << 24) - 0.5
        }
        let layer1 = (0..<16).map { _ in (0..<9).map { _ in next() } }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-reports-examples/filters-layer1.png").path
        try FilterGrid.write(png: path, kernels: layer1, kh: 3, kw: 3, title: "conv1 kernels")
        let png = try DecodedPNG(Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(png.width, 8 * 72 + 9 * 2)
        XCTAssertEqual(png.height, 2 * 72 + 3 * 2 + 2 * 7 + 16)
    }
}
