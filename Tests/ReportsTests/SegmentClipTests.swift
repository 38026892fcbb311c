import XCTest
@testable import Reports

final class SegmentClipTests: XCTestCase {
    let box = (minX: 0.0, minY: 0.0, maxX: 10.0, maxY: 10.0)

    func testInsideEndsComeBackUnchanged() throws {
        let (a, b) = try XCTUnwrap(SegmentClip.clip((1.25, 2.5), (7.75, 9.5), to: box))
        XCTAssertEqual([a.x, a.y, b.x, b.y], [1.25, 2.5, 7.75, 9.5])
    }

    func testFarOffEndsAreCutAtTheEdgeKeepingTheDirection() throws {
        // From (2, 1) straight down to an astronomically far point: cut at the bottom edge.
        let (a, b) = try XCTUnwrap(SegmentClip.clip((2, 1), (2, 1e300), to: box))
        XCTAssertEqual([a.x, a.y, b.x, b.y], [2, 1, 2, 10])
        // Both ends far off on a horizontal line through the box.
        let (c, d) = try XCTUnwrap(SegmentClip.clip((-1e300, 5), (1e300, 5), to: box))
        XCTAssertEqual([c.x, c.y, d.x, d.y], [0, 5, 10, 5])
        // A diagonal from outside to outside crosses two edges.
        let (e, f) = try XCTUnwrap(SegmentClip.clip((-5, -5), (15, 15), to: box))
        XCTAssertEqual([e.x, e.y, f.x, f.y], [0, 0, 10, 10])
    }

    func testMissesAndUnrepresentableSegmentsAreNil() {
        XCTAssertNil(SegmentClip.clip((11, 0), (20, 10), to: box), "entirely to the right")
        XCTAssertNil(SegmentClip.clip((-5, 6), (6, 17), to: box), "passes the corner outside")
        XCTAssertNil(SegmentClip.clip((-.greatestFiniteMagnitude, 5), (.greatestFiniteMagnitude, 5), to: box),
                     "a length beyond the largest Double")
    }
}
