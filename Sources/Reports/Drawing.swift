/// Drawing primitives on `Image`. Coordinates are in pixels with (0, 0) the top-left corner of
/// the top-left pixel, so pixel (i, j) has its centre at (i + 0.5, j + 0.5).
extension Image {
    /// Fills the pixels x..<x+width, y..<y+height (clipped to the image).
    public mutating func fillRect(x: Int, y: Int, width w: Int, height h: Int, color: Color) {
        let x0 = max(0, x), y0 = max(0, y)
        let x1 = min(width, x + w), y1 = min(height, y + h)
        guard x0 < x1, y0 < y1 else { return }
        for yy in y0..<y1 { for xx in x0..<x1 { blend(xx, yy, color) } }
    }

    /// A one-pixel outline of the rectangle x..<x+width, y..<y+height.
    public mutating func strokeRect(x: Int, y: Int, width w: Int, height h: Int, color: Color) {
        guard w > 0, h > 0 else { return }
        fillRect(x: x, y: y, width: w, height: 1, color: color)
        fillRect(x: x, y: y + h - 1, width: w, height: 1, color: color)
        fillRect(x: x, y: y, width: 1, height: h, color: color)
        fillRect(x: x + w - 1, y: y, width: 1, height: h, color: color)
    }

    /// An anti-aliased line of the given width with round ends: each pixel is covered by how
    /// far its centre lies inside the stroke (distance to the segment against half the width).
    public mutating func drawLine(from a: (x: Double, y: Double), to b: (x: Double, y: Double),
                                  width lineWidth: Double = 1, color: Color) {
        guard a.x.isFinite, a.y.isFinite, b.x.isFinite, b.y.isFinite, lineWidth > 0 else { return }
        let half = lineWidth / 2
        let pad = half + 1
        // Clip to the image first (Liang-Barsky), so that a segment to a far-off point keeps its
        // direction but the distance arithmetic below stays in pixel-sized numbers.
        guard let (a, b) = clip(a, b, minX: -pad, minY: -pad, maxX: Double(width) + pad, maxY: Double(height) + pad) else { return }
        let minX = pixelIndex(min(a.x, b.x) - pad, limit: width)
        let maxX = pixelIndex(max(a.x, b.x) + pad, limit: width)
        let minY = pixelIndex(min(a.y, b.y) - pad, limit: height)
        let maxY = pixelIndex(max(a.y, b.y) + pad, limit: height)
        guard minX <= maxX, minY <= maxY else { return }
        let dx = b.x - a.x, dy = b.y - a.y
        let lengthSquared = dx * dx + dy * dy
        for y in minY...maxY {
            for x in minX...maxX {
                let px = Double(x) + 0.5, py = Double(y) + 0.5
                var t = lengthSquared > 0 ? ((px - a.x) * dx + (py - a.y) * dy) / lengthSquared : 0
                t = max(0, min(1, t))
                let ex = a.x + t * dx - px, ey = a.y + t * dy - py
                let d = (ex * ex + ey * ey).squareRoot()
                let coverage = min(1, half + 0.5 - d)
                if coverage > 0 { blend(x, y, color, coverage: coverage) }
            }
        }
    }

    /// The part of segment a-b inside the rectangle, or nil when none is (or the segment is
    /// too long to represent).
    private func clip(_ a: (x: Double, y: Double), _ b: (x: Double, y: Double),
                      minX: Double, minY: Double, maxX: Double, maxY: Double) -> ((x: Double, y: Double), (x: Double, y: Double))? {
        let dx = b.x - a.x, dy = b.y - a.y
        guard dx.isFinite, dy.isFinite else { return nil }
        var t0 = 0.0, t1 = 1.0
        // Which boundary (0 left, 1 right, 2 top, 3 bottom) moved each end, so that coordinate
        // can be set exactly: a + t * d loses all precision when d is astronomically large.
        var edge0 = -1, edge1 = -1
        let bounds = [minX, maxX, minY, maxY]
        for (edge, (p, q)) in [(-dx, a.x - minX), (dx, maxX - a.x), (-dy, a.y - minY), (dy, maxY - a.y)].enumerated() {
            if p == 0 {
                if q < 0 { return nil }
                continue
            }
            let r = q / p
            if p < 0 { if r > t0 { t0 = r; edge0 = edge } } else { if r < t1 { t1 = r; edge1 = edge } }
            if t0 > t1 { return nil }
        }
        func point(_ t: Double, _ edge: Int, from origin: (x: Double, y: Double)) -> (x: Double, y: Double) {
            var p = edge < 0 ? origin : (x: a.x + t * dx, y: a.y + t * dy)
            if edge == 0 || edge == 1 { p.x = bounds[edge] }
            if edge == 2 || edge == 3 { p.y = bounds[edge] }
            return p
        }
        return (point(t0, edge0, from: a), point(t1, edge1, from: b))
    }

    /// The pixel index containing coordinate `v`, clamped to 0..<limit; clamping in floating
    /// point first keeps far-off coordinates (a point way outside fixed axis limits) from
    /// overflowing the conversion to Int.
    private func pixelIndex(_ v: Double, limit: Int) -> Int {
        Int(max(0, min(Double(max(0, limit - 1)), v.rounded(.down))))
    }

    /// A filled, anti-aliased disc.
    public mutating func fillCircle(center: (x: Double, y: Double), radius: Double, color: Color) {
        guard center.x.isFinite, center.y.isFinite, radius > 0 else { return }
        let minX = pixelIndex(center.x - radius - 1, limit: width)
        let maxX = pixelIndex(center.x + radius + 1, limit: width)
        let minY = pixelIndex(center.y - radius - 1, limit: height)
        let maxY = pixelIndex(center.y + radius + 1, limit: height)
        guard minX <= maxX, minY <= maxY else { return }
        for y in minY...maxY {
            for x in minX...maxX {
                let ex = Double(x) + 0.5 - center.x, ey = Double(y) + 0.5 - center.y
                let coverage = min(1, radius + 0.5 - (ex * ex + ey * ey).squareRoot())
                if coverage > 0 { blend(x, y, color, coverage: coverage) }
            }
        }
    }

    /// Draws `text` with the bitmap font, its top-left corner at (x, y); with `vertical` the
    /// text runs bottom to top (rotated 90 degrees counter-clockwise) from (x, y) as the
    /// bottom-left corner, as y-axis labels are drawn.
    public mutating func drawText(_ text: String, x: Int, y: Int, scale: Int = 1, color: Color, vertical: Bool = false) {
        let s = max(1, scale)
        for (index, c) in text.enumerated() {
            let origin = index * BitmapFont.advance
            for row in 0..<BitmapFont.glyphHeight {
                for column in 0..<BitmapFont.glyphWidth where BitmapFont.isInk(c, column: column, row: row) {
                    if vertical {
                        fillRect(x: x + row * s, y: y - (origin + column + 1) * s, width: s, height: s, color: color)
                    } else {
                        fillRect(x: x + (origin + column) * s, y: y + row * s, width: s, height: s, color: color)
                    }
                }
            }
        }
    }

    /// The size of `text` drawn horizontally at `scale`: width, and height down to the
    /// baseline (descenders hang below it).
    public static func textSize(_ text: String, scale: Int) -> (width: Int, height: Int) {
        (BitmapFont.width(of: text, scale: max(1, scale)), BitmapFont.ascent * max(1, scale))
    }

    /// Draws `other` over this image with its top-left corner at (x, y), using its alpha.
    public mutating func composite(_ other: Image, x: Int, y: Int) {
        for j in 0..<other.height {
            for i in 0..<other.width {
                let s = (j * other.width + i) * 4
                let a = other.rgba[s + 3]
                if a == 0 { continue }
                blend(x + i, y + j, Color(other.rgba[s], other.rgba[s + 1], other.rgba[s + 2], a))
            }
        }
    }
}
