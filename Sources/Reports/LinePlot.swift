import Foundation

/// matplotlib's default colour cycle ("tab10").
public let tab10: [Color] = [
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
    0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
].map { Color(hex: $0) }

/// A line chart drawn like a default matplotlib figure: framed axes with outward ticks at nice
/// numbers, tick labels, axis labels, a title, and a legend in the emptiest corner. Each series
/// gets the next tab10 colour, a line through its points and a marker on each point.
/// Non-finite points are skipped and break the line, as in matplotlib.
public struct LinePlot {
    public struct Series {
        public var label: String
        public var x: [Double]
        public var y: [Double]
        public init(label: String, x: [Double], y: [Double]) { self.label = label; self.x = x; self.y = y }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Fixed axis ranges; nil fits the data with a 5% margin (matplotlib's default).
    public var xLimits: ClosedRange<Double>?
    public var yLimits: ClosedRange<Double>?
    public var markers = true

    public init(title: String, xLabel: String, yLabel: String, series: [Series] = [],
                xLimits: ClosedRange<Double>? = nil, yLimits: ClosedRange<Double>? = nil) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
        self.xLimits = xLimits; self.yLimits = yLimits
    }

    public init(title: String, xLabel: String, yLabel: String, series: [(label: String, x: [Double], y: [Double])]) {
        self.init(title: title, xLabel: xLabel, yLabel: yLabel, series: series.map { Series(label: $0.label, x: $0.x, y: $0.y) })
    }

    public mutating func add(label: String, x: [Double], y: [Double]) {
        series.append(Series(label: label, x: x, y: y))
    }

    /// The points of a series that can be drawn (pairs beyond the shorter array are ignored).
    static func points(_ s: Series) -> [(x: Double, y: Double)?] {
        (0..<min(s.x.count, s.y.count)).map { i in
            s.x[i].isFinite && s.y[i].isFinite ? (s.x[i], s.y[i]) : nil
        }
    }

    /// The drawn range on one axis: `fixed` if given, else the data with 5% margins; one value
    /// or none get a unit-wide range around them so the axes are never degenerate.
    static func range(_ values: [Double], fixed: ClosedRange<Double>?) -> (lo: Double, hi: Double) {
        if let f = fixed, f.lowerBound.isFinite, f.upperBound.isFinite, f.upperBound > f.lowerBound {
            return (f.lowerBound, f.upperBound)
        }
        guard let lo = values.min(), let hi = values.max() else { return (0, 1) }
        if hi - lo <= 1e-12 * max(1, abs(lo)) {
            let pad = lo == 0 ? 0.5 : abs(lo) * 0.05
            return (lo - pad, hi + pad)
        }
        let margin = (hi - lo) * 0.05
        return (lo - margin, hi + margin)
    }

    public func render(width: Int = 800, height: Int = 500) -> Image {
        var img = Image(width: width, height: height, fill: .white)
        let scale = 2
        let lineHeight = BitmapFont.ascent * scale
        let allPoints = series.map(Self.points)
        let finite = allPoints.flatMap { $0.compactMap { $0 } }
        let (x0, x1) = Self.range(finite.map(\.x), fixed: xLimits)
        let (y0, y1) = Self.range(finite.map(\.y), fixed: yLimits)
        // Layout: room on the left for the y label and tick labels, below for x, above for the title.
        let tickLength = 5
        let top = title.isEmpty ? 20 : 20 + lineHeight + 18
        let bottom = height - (tickLength + 8 + lineHeight + 14 + lineHeight + 14)
        // As many ticks as fit with a label's height (or width) of space between labels.
        let plotHeight = max(0, bottom - top)
        let yAxis = Self.fittingTicks(lo: y0, hi: y1, most: 8) { labels in
            labels.count * lineHeight * 2 <= plotHeight
        }
        let widestYLabel = yAxis.labels.map { Image.textSize($0, scale: scale).width }.max() ?? 0
        let left = 12 + lineHeight + 12 + widestYLabel + 8 + tickLength
        func rightMargin(_ labels: [String]) -> Int {
            // The last x label is centred on the right edge of the axes and must stay inside.
            let half: Int = Image.textSize(labels.last ?? "", scale: scale).width / 2
            return max(24, half + 8)
        }
        let xAxis = Self.fittingTicks(lo: x0, hi: x1, most: 9) { labels in
            let widest: Int = labels.map { Image.textSize($0, scale: scale).width }.max() ?? 0
            let room: Int = width - rightMargin(labels) - left
            return labels.count * (widest + 24) <= room
        }
        let right = width - rightMargin(xAxis.labels)
        let (xTicks, yTicks, yTickLabels) = (xAxis.ticks, yAxis.ticks, yAxis.labels)
        let xStep = xAxis.step
        guard right - left > 10, bottom - top > 10 else { return img }

        func px(_ x: Double) -> Double { Double(left) + (x - x0) / (x1 - x0) * Double(right - left) }
        func py(_ y: Double) -> Double { Double(bottom) - (y - y0) / (y1 - y0) * Double(bottom - top) }
        let ink = Color.black

        // Ticks and their labels.
        for (t, label) in zip(yTicks, yTickLabels) {
            let y = Int(py(t).rounded(.down))
            img.fillRect(x: left - tickLength, y: y, width: tickLength, height: 1, color: ink)
            let w = Image.textSize(label, scale: scale).width
            img.drawText(label, x: left - tickLength - 6 - w, y: y - lineHeight / 2, scale: scale, color: ink)
        }
        for t in xTicks {
            let x = Int(px(t).rounded(.down))
            img.fillRect(x: x, y: bottom, width: 1, height: tickLength, color: ink)
            let label = NiceTicks.label(t, step: xStep)
            let w = Image.textSize(label, scale: scale).width
            img.drawText(label, x: x - w / 2, y: bottom + tickLength + 6, scale: scale, color: ink)
        }

        // Data, clipped to the axes box.
        var plotArea = Image(width: right - left + 1, height: bottom - top + 1, fill: .clear)
        for (index, points) in allPoints.enumerated() {
            let color = tab10[index % tab10.count]
            var previous: (x: Double, y: Double)?
            for p in points {
                guard let p else { previous = nil; continue }
                let q = (x: px(p.x) - Double(left), y: py(p.y) - Double(top))
                if let a = previous { plotArea.drawLine(from: a, to: q, width: 2, color: color) }
                previous = q
            }
            if markers {
                for p in points.compactMap({ $0 }) {
                    plotArea.fillCircle(center: (px(p.x) - Double(left), py(p.y) - Double(top)), radius: 3.5, color: color)
                }
            }
        }
        img.composite(plotArea, x: left, y: top)
        img.strokeRect(x: left, y: top, width: right - left + 1, height: bottom - top + 1, color: ink)

        // Title and axis labels, centred on the axes.
        let centerX = (left + right) / 2
        if !title.isEmpty {
            let w = Image.textSize(title, scale: scale).width
            img.drawText(title, x: centerX - w / 2, y: 20, scale: scale, color: ink)
        }
        let xw = Image.textSize(xLabel, scale: scale).width
        img.drawText(xLabel, x: centerX - xw / 2, y: bottom + tickLength + 6 + lineHeight + 14, scale: scale, color: ink)
        let yw = Image.textSize(yLabel, scale: scale).width
        img.drawText(yLabel, x: 12, y: (top + bottom) / 2 + yw / 2, scale: scale, color: ink, vertical: true)

        drawLegend(on: &img, points: allPoints.map { $0.compactMap { $0 }.map { (px($0.x), py($0.y)) } },
                   box: (left, top, right, bottom), scale: scale)
        return img
    }

    /// Ticks for lo...hi with at most `most` of them, fewer while `fits` rejects the labels.
    static func fittingTicks(lo: Double, hi: Double, most: Int,
                             fits: ([String]) -> Bool) -> (ticks: [Double], labels: [String], step: Double) {
        var result: (ticks: [Double], labels: [String], step: Double) = ([], [], 1)
        for m in stride(from: max(2, most), through: 2, by: -1) {
            let step = NiceTicks.step(lo: lo, hi: hi, maxTicks: m)
            let ticks = NiceTicks.ticks(lo: lo, hi: hi, maxTicks: m)
            result = (ticks, ticks.map { NiceTicks.label($0, step: step) }, step)
            if fits(result.labels) { break }
        }
        return result
    }

    /// The legend goes in whichever corner of the axes covers the fewest data points
    /// (matplotlib's "best"), preferring the upper right on ties.
    private func drawLegend(on img: inout Image, points: [[(Double, Double)]],
                            box: (left: Int, top: Int, right: Int, bottom: Int), scale: Int) {
        let labelled = series.enumerated().filter { !$0.element.label.isEmpty }
        guard !labelled.isEmpty else { return }
        let lineHeight = BitmapFont.ascent * scale
        let rowHeight = lineHeight + 10
        let sample = 32
        let textWidth = labelled.map { Image.textSize($0.element.label, scale: scale).width }.max() ?? 0
        let w = 10 + sample + 8 + textWidth + 10
        let h = 8 + rowHeight * labelled.count
        let inset = 10
        let corners = [
            (box.right - inset - w, box.top + inset),
            (box.left + inset, box.top + inset),
            (box.right - inset - w, box.bottom - inset - h),
            (box.left + inset, box.bottom - inset - h),
        ]
        let allPoints = points.flatMap { $0 }
        func covered(_ c: (Int, Int)) -> Int {
            allPoints.filter { p in
                p.0 >= Double(c.0 - 4) && p.0 <= Double(c.0 + w + 4) && p.1 >= Double(c.1 - 4) && p.1 <= Double(c.1 + h + 4)
            }.count
        }
        var best = corners[0]
        var bestCount = Int.max
        for c in corners {
            let n = covered(c)
            if n < bestCount { best = c; bestCount = n }
        }
        let (lx, ly) = best
        img.fillRect(x: lx, y: ly, width: w, height: h, color: Color(255, 255, 255, 220))
        img.strokeRect(x: lx, y: ly, width: w, height: h, color: Color(gray: 204))
        for (row, (index, s)) in labelled.enumerated() {
            let color = tab10[index % tab10.count]
            let cy = Double(ly + 4 + row * rowHeight + rowHeight / 2)
            img.drawLine(from: (Double(lx + 10), cy), to: (Double(lx + 10 + sample), cy), width: 2, color: color)
            if markers { img.fillCircle(center: (Double(lx + 10 + sample / 2), cy), radius: 3.5, color: color) }
            img.drawText(s.label, x: lx + 10 + sample + 8, y: Int(cy) - lineHeight / 2, scale: scale, color: .black)
        }
    }

    /// Renders and writes a PNG atomically.
    public func write(png path: String, width: Int = 800, height: Int = 500) throws {
        try PNG.write(render(width: width, height: height), to: path)
    }
}
