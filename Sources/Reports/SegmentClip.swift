/// Liang-Barsky clipping of a line segment to a rectangle.
enum SegmentClip {
    typealias Point = (x: Double, y: Double)

    /// The part of segment a-b inside `bounds`, or nil when none is (or the segment is too long
    /// to represent). An end that is inside comes back unchanged, so consecutive clipped
    /// segments still join.
    static func clip(_ a: Point, _ b: Point, to bounds: (minX: Double, minY: Double, maxX: Double, maxY: Double)) -> (Point, Point)? {
        let dx = b.x - a.x, dy = b.y - a.y
        guard dx.isFinite, dy.isFinite else { return nil }
        var t0 = 0.0, t1 = 1.0
        // Which boundary (0 left, 1 right, 2 top, 3 bottom) moved each end, so that coordinate
        // is set exactly: a + t * d loses all precision when d is astronomically large.
        var edge0 = -1, edge1 = -1
        let limits = [bounds.minX, bounds.maxX, bounds.minY, bounds.maxY]
        let sides = [(-dx, a.x - bounds.minX), (dx, bounds.maxX - a.x), (-dy, a.y - bounds.minY), (dy, bounds.maxY - a.y)]
        for (edge, (p, q)) in sides.enumerated() {
            if p == 0 {
                if q < 0 { return nil }
                continue
            }
            let r = q / p
            if p < 0 { if r > t0 { t0 = r; edge0 = edge } } else { if r < t1 { t1 = r; edge1 = edge } }
        }
        guard t0 <= t1 else { return nil }
        func point(_ t: Double, _ edge: Int, from end: Point) -> Point {
            guard edge >= 0 else { return end }
            var p = (x: a.x + t * dx, y: a.y + t * dy)
            if edge < 2 { p.x = limits[edge] } else { p.y = limits[edge] }
            p.x = min(max(p.x, bounds.minX), bounds.maxX)
            p.y = min(max(p.y, bounds.minY), bounds.maxY)
            return p
        }
        return (point(t0, edge0, from: a), point(t1, edge1, from: b))
    }
}
