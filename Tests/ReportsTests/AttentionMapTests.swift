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

    func testStripHasOneTilePerWordAfterTheImage() {
        let img = Image(width: 20, height: 20, fill: .white)
        let maps = [[Float]](repeating: [Float](repeating: 0.25, count: 4), count: 7)
        let strip = AttentionMap.strip(img, maps: maps, words: ["a", "b", "c", "d", "e", "f", "g"], side: 2, perRow: 3)
        // 8 tiles in rows of 3: 3 columns, 3 rows of (20 + 16 label + 6 gap).
        XCTAssertEqual(strip.width, 6 + 3 * 26)
        XCTAssertEqual(strip.height, 6 + 3 * (20 + 16 + 6))
    }
}
