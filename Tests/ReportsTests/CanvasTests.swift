import XCTest
@testable import Reports

final class CanvasTests: XCTestCase {
    func testSizesAreCheckedBeforeCairoAllocates() {
        for (w, h) in [(0, 10), (10, -1), (Canvas.maxSide + 1, 1), (Canvas.maxSide, Canvas.maxSide), (Int.max, Int.max)] {
            XCTAssertThrowsError(try Canvas(width: w, height: h), "\(w)x\(h)") { e in
                XCTAssertTrue("\(e)".contains("\(w)x\(h)"), "\(e)")
            }
        }
        XCTAssertNoThrow(try Canvas(width: 1, height: 1))
    }

    func testImagesRoundTripExactlyAndScaleByNearestNeighbour() throws {
        var img = Image(width: 3, height: 2)
        let colours = [Color(255, 0, 0), Color(0, 255, 0), Color(0, 0, 255), Color(1, 2, 3), Color(gray: 128), Color(250, 128, 7)]
        for (i, c) in colours.enumerated() { img.set(i % 3, i / 3, c) }
        XCTAssertEqual(try Canvas(img).image(), img)
        let canvas = try Canvas(width: 20, height: 12, background: .black)
        try canvas.draw(img, x: 1, y: 2, scale: 5)
        let out = try canvas.image()
        for y in 0..<12 { for x in 0..<20 {
            let inside = (1..<16).contains(x) && (2..<12).contains(y)
            let expected = inside ? colours[(y - 2) / 5 * 3 + (x - 1) / 5] : .black
            XCTAssertEqual(out.pixel(x, y), expected, "(\(x), \(y))")
        } }
    }

    func testTextIsAntiAliasedAndMeasured() throws {
        let canvas = try Canvas(width: 120, height: 30)
        let size = 10 * 100.0 / 72
        canvas.text("Epoch 12", x: 60, y: 20, size: size, align: .center)
        let img = try canvas.image()
        XCTAssertGreaterThan(img.darkPixels(x0: 0, y0: 0, x1: 120, y1: 30), 30)
        XCTAssertGreaterThan(img.intermediatePixels(x0: 0, y0: 0, x1: 120, y1: 30), 30)
        // Centred: the ink spans about the measured width around x = 60.
        let width = canvas.textWidth("Epoch 12", size: size)
        XCTAssertEqual(width, 58, accuracy: 12, "DejaVu Sans at 10 pt")
        let inkColumns = (0..<120).filter { x in (0..<30).contains { (img.pixel(x, $0)?.r ?? 255) < 200 } }
        let first = try XCTUnwrap(inkColumns.first), last = try XCTUnwrap(inkColumns.last)
        XCTAssertEqual(Double(first + last) / 2, 60, accuracy: 3)
        XCTAssertEqual(Double(last - first), width, accuracy: 4)
        XCTAssertEqual(canvas.textWidth("abc", size: 2 * size), 2 * canvas.textWidth("abc", size: size), accuracy: 0.01,
                       "unhinted metrics scale with the size")
    }

    func testFittingShortensWithAnEllipsis() throws {
        let canvas = try Canvas(width: 1, height: 1)
        XCTAssertEqual(canvas.fitting("river", width: 200, size: 14), "river")
        let cut = canvas.fitting("neighbourhood", width: 40, size: 14)
        XCTAssertTrue(cut.hasSuffix("…"), cut)
        XCTAssertLessThanOrEqual(canvas.textWidth(cut, size: 14), 40)
        XCTAssertEqual(canvas.fitting("w", width: 1, size: 14), "")
    }
}
