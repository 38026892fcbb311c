import Foundation
import GraphIR
import XCTest
@testable import Reports

final class LinePlotTests: XCTestCase {
    let examples = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-reports-examples")

    func testDefaultSizeIsMatplotlibsAndThePNGDecodes() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-plot-\(UUID().uuidString).png").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try LinePlot(title: "loss", xLabel: "epoch", yLabel: "loss", series: [(label: "train", x: [1, 2, 3], y: [3, 2, 1.5])]).write(png: path)
        let png = try DecodedPNG(Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual([png.width, png.height], [640, 480], "6.4 x 4.8 inches at 100 dpi")
        XCTAssertEqual(png.colorType, 2, "an opaque plot is written as RGB")
        let rendered = try LinePlot(title: "loss", xLabel: "epoch", yLabel: "loss", series: [(label: "train", x: [1, 2, 3], y: [3, 2, 1.5])]).render()
        var rgb: [UInt8] = []
        for i in stride(from: 0, to: rendered.rgba.count, by: 4) { rgb += rendered.rgba[i..<(i + 3)] }
        XCTAssertEqual(png.pixels, rgb, "the file holds the rendered pixels")
    }

    func testSeriesGetTab10ColoursAndStayInsideAxes() throws {
        let epochs = (1...15).map(Double.init)
        let img = try LinePlot(title: "Training loss", xLabel: "Epoch", yLabel: "Loss", series: [
            (label: "train", x: epochs, y: epochs.map { 1 / $0 }),
            (label: "dev", x: epochs, y: epochs.map { 0.5 / $0 + 0.1 }),
        ]).render(width: 800, height: 500)
        XCTAssertEqual([img.width, img.height], [800, 500])
        let blue = try XCTUnwrap(img.box(of: tab10[0]))
        let orange = try XCTUnwrap(img.box(of: tab10[1]))
        XCTAssertGreaterThan(img.count(tab10[0]), 500)
        XCTAssertGreaterThan(img.count(tab10[1]), 500)
        XCTAssertEqual(img.count(tab10[2]), 0)
        // The first train point (1, 1.0) is the highest: blue reaches further up than orange.
        XCTAssertLessThan(blue.minY, orange.minY)
        XCTAssertGreaterThan(blue.maxX - blue.minX, 550)
        let frame = try XCTUnwrap(img.frame())
        XCTAssertGreaterThan(blue.minX, frame.left)
        XCTAssertLessThan(blue.maxY, frame.bottom)
    }

    /// Fixed limits 0...10 and 0...1 map onto the frame's line centres; the line passes through
    /// each data point's pixel and through the middle of each segment, and not elsewhere.
    func testTheLinePassesThroughTheDataPointsPixels() throws {
        var plot = LinePlot(title: "t", xLabel: "x", yLabel: "y", xLimits: 0...10, yLimits: 0...1)
        plot.markers = false
        let xs = [1.0, 4, 9], ys = [0.2, 0.9, 0.5]
        plot.add(label: "", x: xs, y: ys)
        let img = try plot.render()
        let f = try XCTUnwrap(img.frame())
        func pixel(_ x: Double, _ y: Double) -> (Int, Int) {
            let px = Double(f.left) + 0.5 + x / 10 * Double(f.right - f.left)
            let py = Double(f.bottom) + 0.5 - y * Double(f.bottom - f.top)
            return (Int(px.rounded(.down)), Int(py.rounded(.down)))
        }
        for (x, y) in zip(xs, ys) {
            let (i, j) = pixel(x, y)
            XCTAssertLessThan(distance(img.pixel(i, j), tab10[0]), 60, "data point (\(x), \(y)) at pixel (\(i), \(j))")
        }
        for k in 0..<2 {
            let (i, j) = pixel((xs[k] + xs[k + 1]) / 2, (ys[k] + ys[k + 1]) / 2)
            XCTAssertLessThan(distance(img.pixel(i, j), tab10[0]), 60, "middle of segment \(k)")
        }
        let (i, j) = pixel(5, 0.2)
        XCTAssertEqual(img.pixel(i, j), .white, "away from the line the axes are empty")
        // The same layout as the library computes it.
        let layout = try plot.layout(Canvas(width: 640, height: 480), points: [])
        XCTAssertEqual([layout.left, layout.top, layout.right, layout.bottom], [f.left, f.top, f.right, f.bottom])
    }

    func testADiagonalLineIsAntiAliased() throws {
        var plot = LinePlot(title: "", xLabel: "", yLabel: "", xLimits: 0...1, yLimits: 0...1)
        plot.markers = false
        plot.add(label: "", x: [0, 1], y: [0, 0.7])
        let img = try plot.render()
        let f = try XCTUnwrap(img.frame())
        // Inside the axes, away from the frame: pixels between white and blue along the edges
        // of the line, each a mix of the two.
        var blends = 0
        for y in (f.top + 3)..<(f.bottom - 3) { for x in (f.left + 3)..<(f.right - 3) {
            guard let p = img.pixel(x, y), p != .white, Color(p.r, p.g, p.b) != tab10[0] else { continue }
            let t = Double(255 - Int(p.r)) / Double(255 - Int(tab10[0].r))
            XCTAssertEqual(Double(p.g), 255 - t * Double(255 - Int(tab10[0].g)), accuracy: 3, "(\(x), \(y)) \(p)")
            XCTAssertEqual(Double(p.b), 255 - t * Double(255 - Int(tab10[0].b)), accuracy: 3, "(\(x), \(y)) \(p)")
            blends += 1
        }}
        XCTAssertGreaterThan(blends, 400, "partly covered pixels on both sides of the whole line")
        XCTAssertGreaterThan(img.count(tab10[0]), 300, "the line's core is the pure series colour")
    }

    func testTitleLabelsAndLegendAreText() throws {
        let x = (0..<20).map(Double.init)
        var plot = LinePlot(title: "Validation accuracy", xLabel: "epoch", yLabel: "accuracy",
                            series: [(label: "lr 0.01", x: x, y: x.map { 1 - exp(-$0 / 4) })])
        let img = try plot.render()
        let f = try XCTUnwrap(img.frame())
        let title = img.darkPixels(x0: f.left, y0: 0, x1: f.right, y1: f.top)
        XCTAssertGreaterThan(title, 100, "title ink above the axes")
        XCTAssertGreaterThan(img.intermediatePixels(x0: f.left, y0: 0, x1: f.right, y1: f.top), 100,
                             "the title is anti-aliased text, not blocks of pure black")
        XCTAssertGreaterThan(img.darkPixels(x0: f.left, y0: f.bottom + 25, x1: f.right, y1: img.height), 40, "x label")
        XCTAssertGreaterThan(img.darkPixels(x0: 0, y0: f.top, x1: f.left - 45, y1: f.bottom), 40, "y label, left of the tick labels")
        // The legend (framed in light grey) holds its handle in the series colour and the label.
        let legend = try XCTUnwrap(img.box(of: Color(gray: 204)))
        let label = img.darkPixels(x0: legend.minX + 40, y0: legend.minY, x1: legend.maxX, y1: legend.maxY)
        XCTAssertGreaterThan(label, 40, "legend text")
        XCTAssertGreaterThan(img.intermediatePixels(x0: legend.minX + 40, y0: legend.minY + 2, x1: legend.maxX - 2, y1: legend.maxY - 2,
                                                    pure: [Color(gray: 204)]), 20)
        plot.title = ""
        let untitled = try plot.render()
        XCTAssertEqual(untitled.darkPixels(x0: 0, y0: 0, x1: untitled.width, y1: f.top - 2), 0, "no title, no ink above the axes")
    }

    func testNonFiniteValuesAreSkippedAndBreakTheLine() throws {
        var joined = LinePlot(title: "", xLabel: "", yLabel: "", yLimits: -0.05...1.05)
        joined.add(label: "", x: [0, 2], y: [0.5, 0.5])
        var split = LinePlot(title: "", xLabel: "", yLabel: "", yLimits: -0.05...1.05)
        split.add(label: "", x: [0, 1, 1.5, 2], y: [0.5, .nan, .infinity, 0.5])
        let joinedCount = try joined.render().count(tab10[0])
        let splitCount = try split.render().count(tab10[0])
        XCTAssertGreaterThan(splitCount, 0, "the markers of the finite points are still drawn")
        XCTAssertGreaterThan(joinedCount, 3 * splitCount)
        // Infinite x is skipped too, and the range comes from the finite points only.
        var infinite = LinePlot(title: "", xLabel: "", yLabel: "")
        infinite.add(label: "", x: [0, .infinity, 1, -.infinity], y: [0, 5, 1, 5])
        let layout = try infinite.layout(Canvas(width: 640, height: 480), points: infinite.series.flatMap { LinePlot.points($0).compactMap { $0 } })
        XCTAssertEqual(layout.y.lo, -0.05, accuracy: 1e-12)
        XCTAssertEqual(layout.y.hi, 1.05, accuracy: 1e-12)
    }

    func testEmptySeriesDrawEmptyAxes() throws {
        for series in [[], [LinePlot.Series(label: "none yet", x: [], y: [])]] {
            let img = try LinePlot(title: "t", xLabel: "x", yLabel: "y", series: series).render()
            let f = try XCTUnwrap(img.frame(), "axes are drawn")
            XCTAssertEqual(img.intermediatePixels(x0: f.left + 2, y0: f.bottom - 60, x1: f.left + 200, y1: f.bottom - 2), 0,
                           "nothing inside the axes")
            XCTAssertEqual(img.count(tab10[0]) > 0, !series.isEmpty, "only a labelled series has a legend handle")
        }
    }

    func testBadSizesAreErrorsNotTraps() throws {
        let plot = LinePlot(title: "t", xLabel: "x", yLabel: "y", series: [(label: "a", x: [1, 2], y: [1, 2])])
        for (w, h, expected) in [(0, 0, "0x0"), (-5, 100, "-5x100"), (100_000, 100_000, "100000x100000"), (40, 30, "no room")] {
            XCTAssertThrowsError(try plot.render(width: w, height: h), "\(w)x\(h)") { e in
                XCTAssertTrue("\(e)".contains(expected), "\(e)")
            }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-plot-\(UUID().uuidString).png").path
        XCTAssertThrowsError(try plot.write(png: path, width: 0, height: 10)) { e in
            XCTAssertEqual((e as? FileError)?.file, path, "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
        XCTAssertThrowsError(try plot.write(png: "/proc/graphc-cannot-write-here/plot.png")) { e in
            XCTAssertTrue("\(e)".contains("/proc/graphc-cannot-write-here/plot.png"), "\(e)")
        }
    }

    func testDegenerateDataDoesNotCrash() throws {
        let cases: [[LinePlot.Series]] = [
            [.init(label: "one", x: [3], y: [7])],
            [.init(label: "flat", x: [1, 2, 3], y: [0.5, 0.5, 0.5])],
            [.init(label: "zeros", x: [0, 0], y: [0, 0])],
            [.init(label: "all nan", x: [1, 2], y: [.nan, .nan])],
            [.init(label: "short y", x: [1, 2, 3], y: [1])],
            [.init(label: "huge", x: [0, 1], y: [-1e300, 1e300])],
            [.init(label: "max", x: [0, 1], y: [-.greatestFiniteMagnitude, .greatestFiniteMagnitude])],
            [.init(label: "tiny", x: [0, 1], y: [.leastNonzeroMagnitude * 1000, .leastNonzeroMagnitude * 2000])],
        ]
        for series in cases {
            let img = try LinePlot(title: "t", xLabel: "x", yLabel: "y", series: series).render()
            XCTAssertNotNil(img.frame(), "axes must be drawn for \(series.map(\.label))")
        }
    }

    func testPointsFarOutsideFixedLimitsAreClipped() throws {
        var plot = LinePlot(title: "", xLabel: "", yLabel: "", xLimits: 0...1, yLimits: 0...1)
        plot.add(label: "", x: [0.5, 0.6, 1e200], y: [0.5, 1e250, -1e300])
        let img = try plot.render()
        XCTAssertGreaterThan(img.count(tab10[0]), 10)
        let f = try XCTUnwrap(img.frame())
        XCTAssertEqual(img.darkPixels(x0: f.left + 1, y0: 0, x1: f.right, y1: f.top - 1), 0, "nothing drawn above the axes")
    }

    func testLegendAvoidsTheData() throws {
        // Data fills the upper right, so the legend must go to the upper left (matplotlib's next choice).
        let x = (0..<50).map { Double($0) / 49 }
        let img = try LinePlot(title: "", xLabel: "", yLabel: "", series: [(label: "rising", x: x, y: x.map { $0 * $0 })]).render()
        let legend = try XCTUnwrap(img.box(of: Color(gray: 204)))
        let f = try XCTUnwrap(img.frame())
        XCTAssertLessThan(legend.maxX, (f.left + f.right) / 2, "legend should be on the left")
        XCTAssertLessThan(legend.maxY, (f.top + f.bottom) / 2, "legend should be at the top")
        let falling = try LinePlot(title: "", xLabel: "", yLabel: "", series: [(label: "falling", x: x, y: x.map { 1 - $0 })]).render()
        let fallingLegend = try XCTUnwrap(falling.box(of: Color(gray: 204)))
        XCTAssertGreaterThan(fallingLegend.minX, (f.left + f.right) / 2, "upper right is free: matplotlib's first choice")
    }

    /// The homework's plots, kept in the temporary folder to be looked at.
    func testWritesHomeworkStylePlots() throws {
        let epochs = (1...15).map(Double.init)
        let loss = epochs.map { 0.25 + 0.6 * exp(-$0 / 3) }
        let acc = epochs.map { 0.91 - 0.08 * exp(-$0 / 2.5) }
        let lossPath = examples.appendingPathComponent("training-loss.png").path
        try LinePlot(title: "Training loss (mean over each epoch)", xLabel: "epoch", yLabel: "training loss",
                     series: [(label: "train loss", x: epochs, y: loss)]).write(png: lossPath)
        var accuracy = LinePlot(title: "Validation accuracy", xLabel: "epoch", yLabel: "validation accuracy")
        accuracy.add(label: "lr 0.001", x: epochs, y: acc.map { $0 - 0.05 })
        accuracy.add(label: "lr 0.01", x: epochs, y: acc)
        accuracy.add(label: "lr 0.1", x: epochs, y: acc.map { $0 - 0.01 })
        let accPath = examples.appendingPathComponent("validation-accuracy.png").path
        try accuracy.write(png: accPath)
        for path in [lossPath, accPath] {
            let png = try DecodedPNG(Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertEqual([png.width, png.height], [640, 480])
        }
    }
}
