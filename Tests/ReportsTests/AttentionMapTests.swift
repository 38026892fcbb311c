import XCTest
@testable import Reports

final class AttentionMapTests: XCTestCase {
    func testResizeAveragesTheCoveredArea() {
        let img = Image(rgb: [0, 0, 0, 200, 100, 50, 100, 50, 26, 100, 50, 24], width: 2, height: 2)
        let one = img.resized(width: 1, height: 1)
        XCTAssertEqual(one.pixel(0, 0), Color(100, 50, 25))
        let up = img.resized(width: 4, height: 4)
        XCTAssertEqual(up.pixel(3, 0), Color(200, 100, 50), "upscaling by 2 repeats pixels")
        XCTAssertEqual(Image(rgb: [1, 2], width: 1, height: 1).pixel(0, 0), Color(0, 0, 0), "short pixel data reads as black")
    }

    func testOverlayLightsTheAttendedRegion() {
        let gray = Image(width: 40, height: 40, fill: Color(gray: 200))
        var weights = [Float](repeating: 0.01, count: 16)
        weights[0] = 0.85                                   // top-left region of a 4x4 grid
        let lit = AttentionMap.overlay(gray, weights: weights, side: 4)
        XCTAssertEqual(lit.pixel(0, 0), Color(gray: 200), "the strongest region keeps full brightness")
        XCTAssertEqual(lit.pixel(39, 39), Color(gray: 40), "the weakest is darkened to 20 %")
        let mid = lit.pixel(12, 2)?.r ?? 0
        XCTAssertTrue(mid > 40 && mid < 200, "between two region centres the map is interpolated: \(mid)")
        XCTAssertEqual(AttentionMap.overlay(gray, weights: [1], side: 4), gray, "a short map leaves the image alone")
    }

    func testStripHasOneTileAndOneReadableWordPerWord() throws {
        let img = Image(width: 60, height: 60, fill: Color(gray: 200))
        var maps = [[Float]](repeating: [Float](repeating: 0.25, count: 4), count: 7)
        maps[1] = [1, 0, 0, 0]
        let words = ["a", "river", "runs", "through", "the", "green", "extraordinarily-long-word"]
        let strip = try AttentionMap.strip(img, maps: maps, words: words, side: 2, perRow: 3)
        // 8 tiles in rows of 3: 3 columns, 3 rows of (tile + label + gap).
        let label = AttentionMap.labelHeight(try Canvas(width: 1, height: 1))
        let gap = AttentionMap.gap
        XCTAssertEqual(strip.width, gap + 3 * (60 + gap))
        XCTAssertEqual(strip.height, gap + 3 * (60 + label + gap))
        for tile in 0..<8 {
            let x = gap + (tile % 3) * (60 + gap), y = gap + (tile / 3) * (60 + label + gap)
            let ink = strip.darkPixels(x0: x, y0: y + 60, x1: x + 60, y1: y + 60 + label)
            XCTAssertGreaterThan(ink, 5, "tile \(tile) has its word underneath")
            XCTAssertGreaterThan(strip.intermediatePixels(x0: x, y0: y + 60, x1: x + 60, y1: y + 60 + label), 5, "anti-aliased text")
        }
        // Tiles are copied pixel for pixel: the plain image, then each word's overlay.
        XCTAssertEqual(strip.pixel(gap + 30, gap + 30), Color(gray: 200))
        let overlay = AttentionMap.overlay(img, weights: maps[1], side: 2)
        let second = (x: gap + 2 * (60 + gap), y: gap)
        for (x, y) in [(0, 0), (59, 59), (30, 10), (10, 45)] {
            XCTAssertEqual(strip.pixel(second.x + x, second.y + y), overlay.pixel(x, y), "(\(x), \(y))")
        }
        // The long word is cut to the tile's width with an ellipsis.
        let canvas = try Canvas(width: 1, height: 1)
        let shown = canvas.fitting(words[6], width: 60, size: AttentionMap.labelSize)
        XCTAssertTrue(shown.hasSuffix("…") && shown.count < words[6].count, shown)
        XCTAssertLessThanOrEqual(canvas.textWidth(shown, size: AttentionMap.labelSize), 60)
    }
}
