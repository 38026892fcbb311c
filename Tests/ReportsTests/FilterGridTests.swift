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

    func testLayoutAndNearestNeighbourCells() throws {
        // 16 kernels of 3x3: kernel k holds k at its centre and 0 elsewhere; kernel 3 counts 1...9.
        var kernels = (0..<16).map { k -> [Float] in
            var v = [Float](repeating: 0, count: 9)
            v[4] = Float(k)
            return v
        }
        kernels[3] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let scale = 4, gap = 2
        let img = try FilterGrid.render(kernels: kernels, kh: 3, kw: 3, perRow: 8, scale: scale, gap: gap)
        XCTAssertEqual(img.width, 8 * 3 * scale + 9 * gap)
        XCTAssertEqual(img.height, 2 * 3 * scale + 3 * gap)
        /// Every screen pixel of kernel k's cell (r, c) must be the same colour: exactly
        /// `scale` x `scale` pixels per weight, no smoothing into neighbours.
        func cell(_ k: Int, _ r: Int, _ c: Int) -> Color? {
            let x0 = gap + (k % 8) * (3 * scale + gap) + c * scale, y0 = gap + (k / 8) * (3 * scale + gap) + r * scale
            let colours = Set((0..<scale).flatMap { dy in (0..<scale).map { dx in img.pixel(x0 + dx, y0 + dy).map { [$0.r, $0.g, $0.b, $0.a] } } })
            XCTAssertEqual(colours.count, 1, "cell (\(r), \(c)) of kernel \(k) is one flat colour: \(colours)")
            return img.pixel(x0, y0)
        }
        XCTAssertEqual(cell(0, 1, 1), Color(gray: 128), "constant kernel is mid grey")
        XCTAssertEqual(cell(9, 1, 1), .white)
        XCTAssertEqual(cell(9, 0, 0), .black)
        XCTAssertEqual(cell(3, 0, 0), .black)
        XCTAssertEqual(cell(3, 2, 2), .white)
        XCTAssertEqual(cell(3, 1, 1), Color(gray: 128))
        XCTAssertEqual(cell(3, 0, 1), Color(gray: 32))
        XCTAssertEqual(cell(3, 0, 2), Color(gray: 64))
        // Gaps have their own colour, right up to each cell's edge.
        XCTAssertEqual(img.pixel(0, 0), FilterGrid.gapColor)
        XCTAssertEqual(img.pixel(gap + 3 * scale, gap + 1), FilterGrid.gapColor)
        XCTAssertEqual(img.pixel(gap + 3 * scale - 1, gap + 1), cell(0, 0, 2))
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

    func testBadKernelsAreVisibleNotFatal() throws {
        let img = try FilterGrid.render(kernels: [[1, 2], [1, .nan, 3, 4]], kh: 2, kw: 2, scale: 3, gap: 1)
        XCTAssertEqual(img.pixel(2, 2), Color(214, 39, 40), "a kernel of the wrong size is red")
        XCTAssertEqual(img.pixel(1 + 6 + 1 + 4, 2), Color(214, 39, 40), "NaN cell is red")
        XCTAssertEqual(img.pixel(1 + 6 + 1 + 1, 2), .black)
        let empty = try FilterGrid.render(kernels: [], kh: 3, kw: 3)
        XCTAssertGreaterThan(empty.width, 0)
        for (kh, scale) in [(0, 4), (3, 0), (3, 100_000), (1 << 40, 1)] {
            XCTAssertThrowsError(try FilterGrid.render(kernels: [[1]], kh: kh, kw: 3, scale: scale), "kh \(kh) scale \(scale)") { e in
                XCTAssertTrue("\(e)".contains("out of range"), "\(e)")
            }
        }
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
        let titleHeight = FilterGrid.titleHeight("conv1 kernels", try Canvas(width: 1, height: 1))
        XCTAssertGreaterThan(titleHeight, 16)
        XCTAssertEqual(png.width, 8 * 72 + 9 * 2)
        XCTAssertEqual(png.height, titleHeight + 2 * 72 + 3 * 2)
        // The title is anti-aliased text: dark ink and grey edge pixels in the band above the grid.
        let img = try FilterGrid.render(kernels: layer1, kh: 3, kw: 3, title: "conv1 kernels")
        XCTAssertGreaterThan(img.darkPixels(x0: 0, y0: 0, x1: img.width, y1: titleHeight), 60)
        XCTAssertGreaterThan(img.intermediatePixels(x0: 0, y0: 0, x1: img.width, y1: titleHeight), 60)
    }
}
