import XCTest
@testable import Reports

final class BitmapFontTests: XCTestCase {
    func testEveryPrintableGlyphIsDefinedAndDistinct() {
        XCTAssertEqual(BitmapFont.glyphs.count, 95)
        var seen: [[UInt8]: Character] = [:]
        for code in 33...126 {
            let c = Character(UnicodeScalar(UInt8(code)))
            let rows = BitmapFont.rows(of: c)
            XCTAssertTrue(rows.contains { $0 != 0 }, "glyph \(c) is blank")
            XCTAssertLessThanOrEqual(rows.count, BitmapFont.glyphHeight)
            XCTAssertTrue(rows.allSatisfy { $0 < 32 }, "glyph \(c) is wider than 5")
            let padded = rows + [UInt8](repeating: 0, count: BitmapFont.glyphHeight - rows.count)
            XCTAssertNil(seen[padded], "glyphs \(c) and \(seen[padded] ?? " ") are identical")
            seen[padded] = c
        }
        XCTAssertEqual(BitmapFont.rows(of: " ").count, 0)
        // Outside ASCII falls back to "?".
        XCTAssertEqual(BitmapFont.rows(of: "é"), BitmapFont.rows(of: "?"))
    }

    func testDescendersHangBelowBaseline() {
        for c in "gjpqy" { XCTAssertGreaterThan(BitmapFont.rows(of: c).count, BitmapFont.ascent, "\(c)") }
        XCTAssertTrue(BitmapFont.isInk("A", column: 0, row: 6))
        XCTAssertFalse(BitmapFont.isInk("A", column: 0, row: 0))
        XCTAssertFalse(BitmapFont.isInk("A", column: 9, row: 0))
    }
}
