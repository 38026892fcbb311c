import Foundation
import GraphIR

/// matplotlib's default colour cycle ("tab10").
public let tab10: [Color] = [
    0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
    0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf,
].map { Color(hex: $0) }

/// A line chart drawn as a default matplotlib figure is (6.4 x 4.8 inches at 100 dpi, so
/// 640x480 pixels; sizes below in points at that resolution): framed axes with outward ticks at
/// nice numbers, tick labels, axis labels, a title, and a legend where it covers the least data
/// ("best"), all text in DejaVu Sans. Each series gets the next tab10 colour, an anti-aliased
/// line through its points and a marker on each point. Non-finite points are skipped and break
/// the line, as in matplotlib.
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

    /// matplotlib's defaults, in pixels at 100 dpi (1 pt = 100/72 px).
    enum Style {
        static let point = 100.0 / 72
        static let fontSize = 10 * point
        static let titleSize = 12 * point
        static let tickLength = 3.5 * point
        static let tickPad = 3.5 * point
        static let labelPad = 4 * point
        static let titlePad = 6 * point
        static let lineWidth = 1.5 * point
        /// matplotlib has no markers by default; ours are a little smaller than its 6 pt "o" so
        /// that each epoch is visible without the markers hiding the line.
        static let markerRadius = 3.0
        /// The axes' box as fractions of the figure (subplot parameters left, right, bottom, top).
        static let box = (left: 0.125, right: 0.9, bottom: 0.11, top: 0.88)
    }

    /// The points of a series that can be drawn (pairs beyond the shorter array are ignored).
    static func points(_ s: Series) -> [(x: Double, y: Double)?] {
        (0..<min(s.x.count, s.y.count)).map { i in
            s.x[i].isFinite && s.y[i].isFinite ? (s.x[i], s.y[i]) : nil
        }
    }

    /// The drawn range on one axis: `fixed` if given, else the data with 5% margins; one value
    /// or none get a unit-wide range around them so the axes are never degenerate. Halved
    /// differences keep the arithmetic finite for values near the largest Double.
    static func range(_ values: [Double], fixed: ClosedRange<Double>?) -> (lo: Double, hi: Double) {
        if let f = fixed, f.lowerBound.isFinite, f.upperBound.isFinite, f.upperBound > f.lowerBound {
            return (f.lowerBound, f.upperBound)
        }
        guard let lo = values.min(), let hi = values.max() else { return (0, 1) }
        let halfSpan = hi / 2 - lo / 2
        if halfSpan <= 0.5e-12 * max(1, abs(lo)) {
            let pad = lo == 0 ? 0.5 : abs(lo) * 0.05
            return (lo - pad, hi + pad)
        }
        let margin = halfSpan * 0.1
        return (max(-.greatestFiniteMagnitude, lo - margin), min(.greatestFiniteMagnitude, hi + margin))
    }

    /// Where the axes go and how data maps onto them. `left`...`right` and `top`...`bottom`
    /// are the pixel columns and rows of the frame lines; data limits map to their centres.
    struct Layout {
        var left: Int, top: Int, right: Int, bottom: Int
        var x: (lo: Double, hi: Double), y: (lo: Double, hi: Double)
        var xTicks: [(value: Double, label: String)]
        var yTicks: [(value: Double, label: String)]

        func px(_ v: Double) -> Double { Double(left) + 0.5 + fraction(v, x) * Double(right - left) }
        func py(_ v: Double) -> Double { Double(bottom) + 0.5 - fraction(v, y) * Double(bottom - top) }
        private func fraction(_ v: Double, _ r: (lo: Double, hi: Double)) -> Double {
            (v / 2 - r.lo / 2) / (r.hi / 2 - r.lo / 2)
        }
    }

    /// Renders to pixels (for tests and for callers that compose images).
    public func render(width: Int = 640, height: Int = 480) throws -> Image {
        try draw(width: width, height: height).image()
    }

    /// Renders and writes a PNG atomically; a failure names `path`.
    public func write(png path: String, width: Int = 640, height: Int = 480) throws {
        try PNG.write(to: path) { try draw(width: width, height: height) }
    }

    func draw(width: Int, height: Int) throws -> Canvas {
        let canvas = try Canvas(width: width, height: height)
        let allPoints = series.map(Self.points)
        let layout = try self.layout(canvas, points: allPoints.flatMap { $0.compactMap { $0 } })
        drawAxes(canvas, layout)
        let box = (x: Double(layout.left), y: Double(layout.top),
                   width: Double(layout.right - layout.left + 1), height: Double(layout.bottom - layout.top + 1))
        // Data is clipped to the inside of the frame, as matplotlib clips to the axes.
        var drawnLines: [[(x: Double, y: Double)]] = [], drawnPoints: [(x: Double, y: Double)] = []
        canvas.clipped(x: box.x, y: box.y, width: box.width, height: box.height) {
            for (index, points) in allPoints.enumerated() {
                let color = tab10[index % tab10.count]
                let pixels = points.map { $0.map { (x: layout.px($0.x), y: layout.py($0.y)) } }
                let runs = Self.visibleRuns(pixels, inside: box, margin: 2 * Style.lineWidth)
                canvas.strokeLines(runs, width: Style.lineWidth, color: color)
                let visible = pixels.compactMap { $0 }.filter { p in
                    p.x >= box.x - 10 && p.x <= box.x + box.width + 10 && p.y >= box.y - 10 && p.y <= box.y + box.height + 10
                }
                if markers {
                    for p in visible { canvas.fillCircle(x: p.x, y: p.y, radius: Style.markerRadius, color: color) }
                }
                drawnLines += runs
                drawnPoints += visible
            }
        }
        drawLegend(canvas, layout, lines: drawnLines, points: drawnPoints)
        try canvas.check("drawing the plot \"\(title)\"")
        return canvas
    }

    /// The axes box (matplotlib's subplot fractions, widened where labels need more room),
    /// ranges and ticks. Throws when the figure is too small to hold axes and their labels.
    func layout(_ canvas: Canvas, points: [(x: Double, y: Double)]) throws -> Layout {
        let w = Double(canvas.width), h = Double(canvas.height)
        let tickFont = canvas.fontMetrics(size: Style.fontSize)
        let titleFont = canvas.fontMetrics(size: Style.titleSize)
        let xRange = Self.range(points.map(\.x), fixed: xLimits)
        let yRange = Self.range(points.map(\.y), fixed: yLimits)

        let topRoom = title.isEmpty ? 8 : Style.titlePad + titleFont.lineHeight + 4
        let top = Int(max(h * (1 - Style.box.top), topRoom).rounded())
        let bottomRoom = Style.tickLength + Style.tickPad + tickFont.lineHeight
            + (xLabel.isEmpty ? 0 : Style.labelPad + tickFont.lineHeight) + 4
        let bottom = Int(min(h * (1 - Style.box.bottom), h - bottomRoom).rounded()) - 1
        // As many y ticks as leave two lines of text between labels (matplotlib's spacing).
        let yTicks = Self.fittingTicks(lo: yRange.lo, hi: yRange.hi, most: 10) { labels in
            Double(labels.count) * tickFont.lineHeight * 2 <= Double(bottom - top)
        }
        let widestY = yTicks.map { canvas.textWidth($0.label, size: Style.fontSize) }.max() ?? 0
        let leftRoom = 6 + (yLabel.isEmpty ? 0 : tickFont.lineHeight + Style.labelPad)
            + widestY + Style.tickPad + Style.tickLength
        let left = Int(max(w * Style.box.left, leftRoom).rounded())
        // The last x label is centred on the right edge and must stay inside the figure.
        func right(_ ticks: [(value: Double, label: String)]) -> Int {
            let half = canvas.textWidth(ticks.last?.label ?? "", size: Style.fontSize) / 2
            return Int(min(w * Style.box.right, w - half - 4).rounded()) - 1
        }
        let xTicks = Self.fittingTicks(lo: xRange.lo, hi: xRange.hi, most: 10) { labels in
            let widest = labels.map { canvas.textWidth($0, size: Style.fontSize) }.max() ?? 0
            let room = Double(right(labels.map { (0, $0) }) - left)
            return Double(labels.count) * max(widest + 12, 3 * Style.fontSize) <= room
        }
        let layout = Layout(left: left, top: top, right: right(xTicks), bottom: bottom,
                            x: xRange, y: yRange, xTicks: xTicks, yTicks: yTicks)
        guard layout.right - layout.left >= 20, layout.bottom - layout.top >= 20 else {
            throw DrawingError("a \(canvas.width)x\(canvas.height) plot leaves no room for its axes and labels")
        }
        return layout
    }

    /// Ticks for lo...hi with at most `most` of them, fewer while `fits` rejects the labels;
    /// ticks that coincide (ranges near the limits of Double) are kept once.
    static func fittingTicks(lo: Double, hi: Double, most: Int,
                             fits: ([String]) -> Bool) -> [(value: Double, label: String)] {
        var result: [(value: Double, label: String)] = []
        for m in stride(from: max(2, most), through: 2, by: -1) {
            let step = NiceTicks.step(lo: lo, hi: hi, maxTicks: m)
            var seen = Set<Double>()
            result = NiceTicks.ticks(lo: lo, hi: hi, maxTicks: m)
                .filter { $0.isFinite && seen.insert($0).inserted }
                .map { ($0, NiceTicks.label($0, step: step)) }
            if fits(result.map(\.label)) { break }
        }
        return result
    }

    private func drawAxes(_ canvas: Canvas, _ l: Layout) {
        let font = canvas.fontMetrics(size: Style.fontSize)
        let digitCentre = canvas.inkHeight("0", size: Style.fontSize) / 2
        var ticks: [[(x: Double, y: Double)]] = []
        for t in l.yTicks {
            let y = l.py(t.value).rounded(.down) + 0.5
            ticks.append([(Double(l.left) - Style.tickLength, y), (Double(l.left), y)])
            canvas.text(t.label, x: Double(l.left) - Style.tickLength - Style.tickPad, y: y + digitCentre,
                        size: Style.fontSize, align: .right)
        }
        let xLabelTop = Double(l.bottom + 1) + Style.tickLength + Style.tickPad
        for t in l.xTicks {
            let x = l.px(t.value).rounded(.down) + 0.5
            ticks.append([(x, Double(l.bottom + 1)), (x, Double(l.bottom + 1) + Style.tickLength)])
            canvas.text(t.label, x: x, y: xLabelTop + font.ascent, size: Style.fontSize, align: .center)
        }
        canvas.strokeLines(ticks, width: 1, color: .black, cap: .butt)
        // The frame: 1-pixel lines on pixel centres, so they are crisp as matplotlib's snapped spines.
        canvas.strokeRect(x: Double(l.left) + 0.5, y: Double(l.top) + 0.5,
                          width: Double(l.right - l.left), height: Double(l.bottom - l.top), color: .black)

        let centreX = Double(l.left + l.right + 1) / 2
        if !title.isEmpty {
            let titleFont = canvas.fontMetrics(size: Style.titleSize)
            canvas.text(title, x: centreX, y: Double(l.top) - Style.titlePad - titleFont.descent,
                        size: Style.titleSize, align: .center)
        }
        canvas.text(xLabel, x: centreX, y: xLabelTop + font.lineHeight + Style.labelPad + font.ascent,
                    size: Style.fontSize, align: .center)
        let widestY = l.yTicks.map { canvas.textWidth($0.label, size: Style.fontSize) }.max() ?? 0
        let yLabelBaseline = Double(l.left) - Style.tickLength - Style.tickPad - widestY - Style.labelPad - font.descent
        canvas.text(yLabel, x: yLabelBaseline, y: Double(l.top + l.bottom + 1) / 2, size: Style.fontSize,
                    align: .center, vertical: true)
    }

    /// The polylines to stroke: each run of consecutive finite points, cut to the part of each
    /// segment near the box (so far-off points keep their direction but cairo only sees
    /// coordinates of pixel size).
    static func visibleRuns(_ points: [(x: Double, y: Double)?], inside box: (x: Double, y: Double, width: Double, height: Double),
                            margin: Double) -> [[(x: Double, y: Double)]] {
        let bounds = (minX: box.x - margin, minY: box.y - margin,
                      maxX: box.x + box.width + margin, maxY: box.y + box.height + margin)
        var runs: [[(x: Double, y: Double)]] = []
        var current: [(x: Double, y: Double)] = []
        func flush() { if current.count > 1 { runs.append(current) }; current = [] }
        var previous: (x: Double, y: Double)?
        for p in points {
            guard let p, p.x.isFinite, p.y.isFinite else { flush(); previous = nil; continue }
            defer { previous = p }
            guard let a = previous else {
                if p.x >= bounds.minX, p.x <= bounds.maxX, p.y >= bounds.minY, p.y <= bounds.maxY { current = [p] }
                continue
            }
            guard let (from, to) = SegmentClip.clip(a, p, to: bounds) else { flush(); continue }
            if let last = current.last, last.x == from.x, last.y == from.y {
                current.append(to)
            } else {
                flush()
                current = [from, to]
            }
        }
        flush()
        return runs
    }
}
