@testable import Reports

/// Pixel queries shared by the plot tests.
extension Image {
    /// Pixels whose RGB is exactly `color`'s.
    func count(_ color: Color) -> Int {
        stride(from: 0, to: rgba.count, by: 4).filter { i in
            rgba[i] == color.r && rgba[i + 1] == color.g && rgba[i + 2] == color.b
        }.count
    }

    /// Bounding box of the pixels whose RGB is exactly `color`'s.
    func box(of color: Color) -> (minX: Int, minY: Int, maxX: Int, maxY: Int)? {
        var r: (minX: Int, minY: Int, maxX: Int, maxY: Int)?
        for y in 0..<height { for x in 0..<width {
            guard let p = pixel(x, y), p.r == color.r, p.g == color.g, p.b == color.b else { continue }
            r = r.map { (min($0.minX, x), min($0.minY, y), max($0.maxX, x), max($0.maxY, y)) } ?? (x, y, x, y)
        } }
        return r
    }

    /// Pixels in x0..<x1, y0..<y1 darker than mid grey (text, lines).
    func darkPixels(x0: Int, y0: Int, x1: Int, y1: Int) -> Int {
        var n = 0
        for y in max(0, y0)..<min(height, y1) { for x in max(0, x0)..<min(width, x1) where (pixel(x, y)?.r ?? 255) < 128 { n += 1 } }
        return n
    }

    /// Pixels in the region that are neither white nor black nor a pure colour of `pure`:
    /// the partly covered edge pixels of anti-aliased drawing.
    func intermediatePixels(x0: Int, y0: Int, x1: Int, y1: Int, pure: [Color] = []) -> Int {
        var n = 0
        for y in max(0, y0)..<min(height, y1) { for x in max(0, x0)..<min(width, x1) {
            guard let p = pixel(x, y) else { continue }
            let rgb = Color(p.r, p.g, p.b)
            if rgb != .white && rgb != .black && !pure.contains(rgb) { n += 1 }
        } }
        return n
    }

    /// The frame of the axes: the outermost columns and rows holding a long run of pure black.
    func frame(minRun: Int = 150) -> (left: Int, top: Int, right: Int, bottom: Int)? {
        var perColumn = [Int](repeating: 0, count: width), perRow = [Int](repeating: 0, count: height)
        for y in 0..<height { for x in 0..<width {
            let i = (y * width + x) * 4
            if rgba[i] == 0 && rgba[i + 1] == 0 && rgba[i + 2] == 0 { perColumn[x] += 1; perRow[y] += 1 }
        } }
        let columns = perColumn.indices.filter { perColumn[$0] > minRun }
        let rows = perRow.indices.filter { perRow[$0] > minRun }
        guard let l = columns.first, let r = columns.last, let t = rows.first, let b = rows.last, l < r, t < b else { return nil }
        return (l, t, r, b)
    }
}

/// Euclidean distance between two colours' RGB.
func distance(_ a: Color?, _ b: Color) -> Double {
    guard let a else { return .infinity }
    let d = [Double(a.r) - Double(b.r), Double(a.g) - Double(b.g), Double(a.b) - Double(b.b)]
    return d.map { $0 * $0 }.reduce(0, +).squareRoot()
}
