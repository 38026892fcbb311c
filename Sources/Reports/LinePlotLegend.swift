/// The legend, laid out with matplotlib's defaults (paddings in units of the font size) and
/// placed as its `loc="best"` places it.
extension LinePlot {
    enum LegendStyle {
        static let borderPad = 0.4, labelSpacing = 0.5, handleLength = 2.0, handleTextPad = 0.8, borderAxesPad = 0.5
        static let face = Color(255, 255, 255, 204)
        static let edge = Color(gray: 204)
    }

    /// The candidate boxes in matplotlib's order of preference (upper right, upper left, lower
    /// left, lower right, right, centre left, centre right, lower centre, upper centre, centre),
    /// each the legend's top-left corner inside the axes.
    static func legendCandidates(_ l: Layout, width w: Double, height h: Double, pad: Double) -> [(x: Double, y: Double)] {
        let left = Double(l.left) + pad, right = Double(l.right + 1) - pad - w
        let top = Double(l.top) + pad, bottom = Double(l.bottom + 1) - pad - h
        let midX = Double(l.left + l.right + 1) / 2 - w / 2, midY = Double(l.top + l.bottom + 1) / 2 - h / 2
        return [(right, top), (left, top), (left, bottom), (right, bottom), (right, midY),
                (left, midY), (right, midY), (midX, bottom), (midX, top), (midX, midY)]
    }

    /// The first candidate with the fewest drawn points inside it plus line segments crossing it.
    static func bestLegendPlace(_ candidates: [(x: Double, y: Double)], width w: Double, height h: Double,
                                lines: [[(x: Double, y: Double)]], points: [(x: Double, y: Double)]) -> (x: Double, y: Double) {
        var best = candidates[0], bestBadness = Int.max
        for c in candidates {
            let bounds = (minX: c.x, minY: c.y, maxX: c.x + w, maxY: c.y + h)
            var badness = points.filter { $0.x >= bounds.minX && $0.x <= bounds.maxX && $0.y >= bounds.minY && $0.y <= bounds.maxY }.count
            for run in lines {
                for (a, b) in zip(run, run.dropFirst()) where SegmentClip.clip(a, b, to: bounds) != nil { badness += 1 }
            }
            if badness < bestBadness { best = c; bestBadness = badness }
        }
        return best
    }

    func drawLegend(_ canvas: Canvas, _ l: Layout, lines: [[(x: Double, y: Double)]], points: [(x: Double, y: Double)]) {
        let entries = series.enumerated().filter { !$0.element.label.isEmpty }
        guard !entries.isEmpty else { return }
        let size = Style.fontSize
        let font = canvas.fontMetrics(size: size)
        let textWidth = entries.map { canvas.textWidth($0.element.label, size: size) }.max() ?? 0
        let pad = LegendStyle.borderPad * size
        let w = (2 * pad + (LegendStyle.handleLength + LegendStyle.handleTextPad) * size + textWidth).rounded(.up)
        let n = Double(entries.count)
        let h = (2 * pad + n * font.lineHeight + (n - 1) * LegendStyle.labelSpacing * size).rounded(.up)
        let candidates = Self.legendCandidates(l, width: w, height: h, pad: LegendStyle.borderAxesPad * size)
        let place = Self.bestLegendPlace(candidates, width: w, height: h, lines: lines, points: points)
        let x = place.x.rounded(), y = place.y.rounded()
        canvas.strokeRect(x: x + 0.5, y: y + 0.5, width: w, height: h, color: LegendStyle.edge,
                          radius: 0.2 * size, fill: LegendStyle.face)
        for (row, (index, s)) in entries.enumerated() {
            let color = tab10[index % tab10.count]
            let rowTop = y + pad + Double(row) * (font.lineHeight + LegendStyle.labelSpacing * size)
            let middle = rowTop + font.lineHeight / 2
            let handle = (from: x + pad, to: x + pad + LegendStyle.handleLength * size)
            canvas.strokeLines([[(handle.from, middle), (handle.to, middle)]], width: Style.lineWidth, color: color, cap: .butt)
            if markers { canvas.fillCircle(x: (handle.from + handle.to) / 2, y: middle, radius: Style.markerRadius, color: color) }
            canvas.text(s.label, x: handle.to + LegendStyle.handleTextPad * size, y: rowTop + font.ascent, size: size)
        }
    }
}
