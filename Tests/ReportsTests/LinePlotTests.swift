import Foundation
import XCTest
@testable import Reports

final class LinePlotTests: XCTestCase {
    func count(_ color: Color, in img: Image) -> Int {
        var n = 0
        for i in stride(from: 0, to: img.rgba.count, by: 4)
        where img.rgba[i] == color.r && img.rgba[i + 1] == color.g && img.rgba[i + 2] == color.b { n += 1 }
        return n
    }

    /// Bounding box of the pixels of `color`.
    func box(_ color: Color, in img: Image) -> (minX: Int, minY: Int, maxX: Int, maxY: Int)? {
        var r: (Int, Int, Int, Int)?
        for y in 0..<img.height { for x in 0..<img.width where img.pixel(x, y) == color {
            r = r.map { (min($0.0, x), min($0.1, y), max($0.2, x), max($0.3, y)) } ?? (x, y, x, y)
        } }
        return r.map { (minX: $0.0, minY: $0.1, maxX: $0.2, maxY: $0.3) }
    }

    func testSeriesGetTab10ColoursAndStayInsideAxes() throws {
        let epochs = (1...15).map(Double.init)
        let plot = LinePlot(title: "Training loss", xLabel: "Epoch", yLabel: "Loss", series: [
            (label: "train", x: epochs, y: epochs.map { 1 / $0 }),
            (label: "dev", x: epochs, y: epochs.map { 0.5 / $0 + 0.1 }),
        ])
        let img = plot.render(width: 800, height: 500)
        XCTAssertEqual([img.width, img.height], [800, 500])
        let blue = try XCTUnwrap(box(tab10[0], in: img))
        let orange = try XCTUnwrap(box(tab10[1], in: img))
        XCTAssertGreaterThan(count(tab10[0], in: img), 500)
        XCTAssertGreaterThan(count(tab10[1], in: img), 500)
        XCTAssertEqual(count(tab10[2], in: img), 0)
        // The first train point (1, 1.0) is the highest and leftmost: blue reaches further up
        // and as far left as orange; both span most of the width.
        XCTAssertLessThan(blue.minY, orange.minY)
        XCTAssertGreaterThan(blue.maxX - blue.minX, 600)
        // The frame is black, and the series stay within it.
        let frame = try XCTUnwrap(box(.black, in: img))
        XCTAssertGreaterThan(blue.minX, frame.minX)
        XCTAssertLessThan(blue.maxY, frame.maxY)
    }

    func testPointsLandWhereTheAxesSayWithFixedLimits() throws {
        var plot = LinePlot(title: "", xLabel: "", yLabel: "", xLimits: 0...10, yLimits: 0...1)
        plot.add(label: "", x: [5], y: [0.5])
        let img = plot.render(width: 400, height: 300)
        let marker = try XCTUnwrap(box(tab10[0], in: img))
        let centerX = Double(marker.minX + marker.maxX) / 2, centerY = Double(marker.minY + marker.maxY) / 2
        // The axes' right and top edges are fixed margins; find the left and bottom frame lines.
        let right = 400 - 24, top = 20
        // The marker sits halfway between the axes' edges.
        let left = leftEdge(of: img)
        let bottom = bottomEdge(of: img)
        XCTAssertGreaterThan(left, 20)
        XCTAssertLessThan(bottom, 280)
        XCTAssertEqual(centerX, Double(left + right) / 2, accuracy: 1.5)
        XCTAssertEqual(centerY, Double(top + bottom) / 2, accuracy: 1.5)
    }

    /// The leftmost column with a long black run: the y axis line.
    func leftEdge(of img: Image) -> Int {
        (0..<img.width).first { x in (0..<img.height).filter { img.pixel(x, $0) == .black }.count > 100 } ?? -1
    }

    /// The lowest row with a long black run: the x axis line.
    func bottomEdge(of img: Image) -> Int {
        (0..<img.height).reversed().first { y in (0..<img.width).filter { img.pixel($0, y) == .black }.count > 100 } ?? -1
    }

    func testDegenerateInputsDoNotCrash() {
        let cases: [[LinePlot.Series]] = [
            [],
            [.init(label: "empty", x: [], y: [])],
            [.init(label: "one", x: [3], y: [7])],
            [.init(label: "flat", x: [1, 2, 3], y: [0.5, 0.5, 0.5])],
            [.init(label: "zeros", x: [0, 0], y: [0, 0])],
            [.init(label: "nan", x: [1, 2, 3, 4], y: [1, .nan, 3, .infinity])],
            [.init(label: "short y", x: [1, 2, 3], y: [1])],
            [.init(label: "huge", x: [0, 1], y: [-1e300, 1e300])],
            [.init(label: "max", x: [0, 1], y: [-.greatestFiniteMagnitude, .greatestFiniteMagnitude])],
        ]
        for series in cases {
            for (w, h) in [(800, 500), (40, 30), (0, 0)] {
                let img = LinePlot(title: "t", xLabel: "x", yLabel: "y", series: series).render(width: w, height: h)
                XCTAssertEqual(img.width * img.height, w * h)
            }
            let img = LinePlot(title: "t", xLabel: "x", yLabel: "y", series: series).render()
            XCTAssertGreaterThan(count(.black, in: img), 1000, "axes must be drawn for \(series.map(\.label))")
        }
    }

    func testPointsFarOutsideFixedLimitsAreClipped() {
        var plot = LinePlot(title: "", xLabel: "", yLabel: "", xLimits: 0...1, yLimits: 0...1)
        plot.add(label: "", x: [0.5, 0.6, 1e200], y: [0.5, 1e250, -1e300])
        let img = plot.render()
        XCTAssertGreaterThan(count(tab10[0], in: img), 10)
    }

    func testNaNBreaksTheLine() {
        // With the middle point missing, the two remaining points are not joined: far fewer
        // blue pixels than the same two points joined by a line.
        var joined = LinePlot(title: "", xLabel: "", yLabel: "")
        joined.add(label: "", x: [0, 2], y: [0, 0])
        joined.yLimits = -0.05...1.05
        var split = LinePlot(title: "", xLabel: "", yLabel: "")
        split.add(label: "", x: [0, 1, 2], y: [0, .nan, 0])
        split.yLimits = -0.05...1.05
        let joinedCount = count(tab10[0], in: joined.render())
        let splitCount = count(tab10[0], in: split.render())
        XCTAssertGreaterThan(splitCount, 0, "the markers are still drawn")
        XCTAssertGreaterThan(joinedCount, 3 * splitCount)
    }

    func testLegendAvoidsTheData() throws {
        // Data fills the upper right, so the legend (with its light grey border) must go elsewhere.
        let x = (0..<50).map { Double($0) / 49 }
        let plot = LinePlot(title: "", xLabel: "", yLabel: "", series: [(label: "rising", x: x, y: x.map { $0 * $0 })])
        let img = plot.render()
        let legend = try XCTUnwrap(box(Color(gray: 204), in: img))
        XCTAssertLessThan(legend.maxX, 400, "legend should be on the left")
        XCTAssertLessThan(legend.maxY, 250, "legend should be at the top")
    }

    func testWritesHomeworkStylePlots() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-reports-examples")
        let epochs = (1...15).map(Double.init)
        let loss = epochs.map { 0.25 + 0.6 * exp(-$0 / 3) }
        let acc = epochs.map { 0.91 - 0.08 * exp(-$0 / 2.5) }
        let lossPath = dir.appendingPathComponent("0.01-0.3-0-sgd-training-loss.png").path
        try LinePlot(title: "Training loss (mean over each epoch)", xLabel: "Epoch", yLabel: "Loss",
                     series: [(label: "train loss", x: epochs, y: loss)]).write(png: lossPath)
        var accuracy = LinePlot(title: "Validation accuracy", xLabel: "Epoch", yLabel: "Accuracy")
        accuracy.add(label: "lr 0.001", x: epochs, y: acc.map { $0 - 0.05 })
        accuracy.add(label: "lr 0.01", x: epochs, y: acc)
        accuracy.add(label: "lr 0.1", x: epochs, y: acc.map { $0 - 0.01 })
        let accPath = dir.appendingPathComponent("0.01-0.3-0-sgd-validation-accuracy.png").path
        try accuracy.write(png: accPath)
        for path in [lossPath, accPath] {
            let png = try DecodedPNG(Data(contentsOf: URL(fileURLWithPath: path)))
            XCTAssertEqual([png.width, png.height], [800, 500])
        }
        print("example plots written to \(dir.path)")
    }
}
