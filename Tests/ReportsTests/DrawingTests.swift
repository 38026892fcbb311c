import XCTest
@testable import Reports

final class DrawingTests: XCTestCase {
    func testFillRectClipsToImage() {
        var img = Image(width: 4, height: 3, fill: .white)
        img.fillRect(x: -2, y: 1, width: 4, height: 10, color: .black)
        let dark = (0..<3).flatMap { y in (0..<4).map { x in img.pixel(x, y) == .black ? 1 : 0 } }
        XCTAssertEqual(dark, [0, 0, 0, 0,
                              1, 1, 0, 0,
                              1, 1, 0, 0])
        XCTAssertNil(img.pixel(4, 0))
    }

    func testBlendHalfCoverage() {
        var img = Image(width: 1, height: 1, fill: .white)
        img.blend(0, 0, .black, coverage: 0.5)
        XCTAssertEqual(img.pixel(0, 0), Color(128, 128, 128))
        var clear = Image(width: 1, height: 1, fill: .clear)
        clear.blend(0, 0, Color(200, 0, 0), coverage: 0.5)
        XCTAssertEqual(clear.pixel(0, 0), Color(200, 0, 0, 128))
    }

    func testHorizontalLineCoversItsRow() {
        var img = Image(width: 20, height: 9, fill: .white)
        img.drawLine(from: (2.5, 4.5), to: (17.5, 4.5), width: 1, color: .black)
        for x in 2...17 { XCTAssertEqual(img.pixel(x, 4), .black, "x=\(x)") }
        XCTAssertEqual(img.pixel(10, 2), .white)
        XCTAssertEqual(img.pixel(10, 6), .white)
        XCTAssertEqual(img.pixel(0, 4), .white)
    }

    func testDiagonalLineIsAntiAliased() {
        var img = Image(width: 20, height: 20, fill: .white)
        img.drawLine(from: (0, 0), to: (20, 13), width: 2, color: .black)
        let greys = img.rgba.enumerated().filter { $0.offset % 4 == 0 }.map(\.element)
        XCTAssertTrue(greys.contains { $0 > 0 && $0 < 255 }, "expected partially covered pixels")
        XCTAssertTrue(greys.contains(0))
        XCTAssertEqual(img.pixel(19, 0), .white)
    }

    func testFarOffCoordinatesAreClippedNotFatal() {
        var img = Image(width: 10, height: 10, fill: .white)
        img.drawLine(from: (-1e300, 5.5), to: (1e300, 5.5), width: 1, color: .black)
        XCTAssertEqual(img.pixel(0, 5), .black)
        XCTAssertEqual(img.pixel(9, 5), .black)
        // Towards a far-off point the line keeps its direction: straight down from (2.5, 1.5).
        img.drawLine(from: (2.5, 1.5), to: (2.5, 1e300), width: 1, color: .black)
        XCTAssertEqual(img.pixel(2, 9), .black)
        XCTAssertEqual(img.pixel(2, 0), .white)
        XCTAssertEqual(img.pixel(3, 8), .white)
        img.fillCircle(center: (1e300, -1e300), radius: 1e200, color: .black)
        img.drawLine(from: (.nan, 0), to: (3, 3), color: .black)
        XCTAssertEqual(img.pixel(0, 0), .white)
    }

    func testCircleIsRound() {
        var img = Image(width: 21, height: 21, fill: .white)
        img.fillCircle(center: (10.5, 10.5), radius: 5, color: .black)
        XCTAssertEqual(img.pixel(10, 10), .black)
        XCTAssertEqual(img.pixel(14, 10), .black)
        XCTAssertEqual(img.pixel(10, 6), .black)
        XCTAssertEqual(img.pixel(16, 10), .white)
        // The corner of the bounding square is outside the disc.
        XCTAssertEqual(img.pixel(14, 14), .white)
    }

    func testTextDrawsGlyphBits() {
        var img = Image(width: 20, height: 20, fill: .white)
        img.drawText("T", x: 1, y: 2, scale: 2, color: .black)
        // "T": top bar across all 5 columns, then the stem in column 2.
        for c in 0..<5 { XCTAssertEqual(img.pixel(1 + 2 * c, 2), .black) }
        XCTAssertEqual(img.pixel(1 + 2 * 2, 2 + 2 * 6 + 1), .black)
        XCTAssertEqual(img.pixel(1, 2 + 2 * 3), .white)
        XCTAssertEqual(Image.textSize("Ti", scale: 2).width, (6 + 5) * 2)
    }

    func testVerticalTextRunsUpwards() {
        var img = Image(width: 20, height: 20, fill: .white)
        img.drawText("T", x: 2, y: 15, color: .black, vertical: true)
        // Rotated counter-clockwise: the bar of the T becomes the left column, read bottom to top.
        for c in 0..<5 { XCTAssertEqual(img.pixel(2, 15 - c - 1), .black) }
        // The stem (glyph column 2) is the row 3 pixels above the bottom, extending to the right.
        for r in 1..<7 { XCTAssertEqual(img.pixel(2 + r, 12), .black) }
        XCTAssertEqual(img.pixel(4, 14), .white)
    }
}
