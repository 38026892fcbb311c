/// Photos in reports: RGB pixels as an `Image`, resized by area averaging, and Show, Attend and
/// Tell's figure: one copy of the image per generated word, lit where the word's attention
/// weights (a square grid of regions, e.g. 16x16) are high, the word written underneath.
extension Image {
    /// An opaque image from interleaved 8-bit RGB rows (`width * height * 3` bytes; missing
    /// bytes read as black).
    public init(rgb pixels: [UInt8], width: Int, height: Int) {
        self.init(width: width, height: height, fill: .black)
        let n = min(self.width * self.height, pixels.count / 3)
        for i in 0..<n {
            rgba[4 * i] = pixels[3 * i]
            rgba[4 * i + 1] = pixels[3 * i + 1]
            rgba[4 * i + 2] = pixels[3 * i + 2]
        }
    }

    /// The image scaled to `width` x `height`: each output pixel averages the source area it
    /// covers (box filter), so a 500 -> 250 downscale has no aliasing.
    public func resized(width w: Int, height h: Int) -> Image {
        var out = Image(width: w, height: h, fill: .clear)
        guard width > 0, height > 0, out.width > 0, out.height > 0 else { return out }
        let sx = Double(width) / Double(out.width), sy = Double(height) / Double(out.height)
        for y in 0..<out.height {
            let y0 = Double(y) * sy, y1 = y0 + sy
            for x in 0..<out.width {
                let x0 = Double(x) * sx, x1 = x0 + sx
                var sum = [Double](repeating: 0, count: 4)
                var weight = 0.0
                var j = Int(y0)
                while Double(j) < y1 && j < height {
                    let wy = min(y1, Double(j + 1)) - max(y0, Double(j))
                    var i = Int(x0)
                    while Double(i) < x1 && i < width {
                        let wgt = wy * (min(x1, Double(i + 1)) - max(x0, Double(i)))
                        let p = (j * width + i) * 4
                        for k in 0..<4 { sum[k] += wgt * Double(rgba[p + k]) }
                        weight += wgt
                        i += 1
                    }
                    j += 1
                }
                guard weight > 0 else { continue }
                let q = (y * out.width + x) * 4
                for k in 0..<4 { out.rgba[q + k] = UInt8(max(0, min(255, (sum[k] / weight).rounded()))) }
            }
        }
        return out
    }
}

public enum AttentionMap {
    /// `image` lit by one attention map: the `side` x `side` weights (row-major regions, as the
    /// encoder's h x w grid) upsampled bilinearly to the image and stretched from the map's
    /// smallest weight (darkened to 20 %) to its largest (full brightness), with a square-root
    /// curve so that a few strong regions do not leave the rest of the map black.
    public static func overlay(_ image: Image, weights: [Float], side: Int) -> Image {
        var out = image
        guard side > 0, weights.count >= side * side, image.width > 0, image.height > 0 else { return out }
        let map = weights.prefix(side * side)
        let low = Double(map.min() ?? 0), span = max(Double(map.max() ?? 0) - low, 1e-30)
        for y in 0..<image.height {
            // Pixel centres mapped onto the grid of region centres.
            let gy = min(max((Double(y) + 0.5) * Double(side) / Double(image.height) - 0.5, 0), Double(side - 1))
            let y0 = Int(gy), y1 = min(y0 + 1, side - 1), fy = gy - Double(y0)
            for x in 0..<image.width {
                let gx = min(max((Double(x) + 0.5) * Double(side) / Double(image.width) - 0.5, 0), Double(side - 1))
                let x0 = Int(gx), x1 = min(x0 + 1, side - 1), fx = gx - Double(x0)
                let top = Double(weights[y0 * side + x0]) * (1 - fx) + Double(weights[y0 * side + x1]) * fx
                let bottom = Double(weights[y1 * side + x0]) * (1 - fx) + Double(weights[y1 * side + x1]) * fx
                let a = ((top * (1 - fy) + bottom * fy) - low) / span
                let light = 0.2 + 0.8 * max(0, min(1, a)).squareRoot()
                let p = (y * image.width + x) * 4
                for k in 0..<3 { out.rgba[p + k] = UInt8((Double(image.rgba[p + k]) * light).rounded()) }
            }
        }
        return out
    }

    /// Text under each tile: matplotlib's default 10 pt at 100 dpi.
    static let labelSize = 10 * 100.0 / 72
    static let gap = 6

    /// The height of the band under each tile that holds its word.
    static func labelHeight(_ canvas: Canvas) -> Int {
        Int((canvas.fontMetrics(size: labelSize).lineHeight + 8).rounded(.up))
    }

    /// The strip: the plain image first (captioned `caption`), then one overlay per word with
    /// the word under it, wrapping after `perRow` tiles. Words too wide for a tile end in "…".
    public static func strip(_ image: Image, maps: [[Float]], words: [String], side: Int, perRow: Int = 6,
                             caption: String = "image") throws -> Image {
        let tiles = [(image, caption)] + zip(maps, words).map { (overlay(image, weights: $0, side: side), $1) }
        let columns = max(1, min(perRow, tiles.count))
        let rows = (tiles.count + columns - 1) / columns
        let label = labelHeight(try Canvas(width: 1, height: 1))
        let canvas = try Canvas(width: gap + columns * (image.width + gap), height: gap + rows * (image.height + label + gap))
        let font = canvas.fontMetrics(size: labelSize)
        for (i, (tile, word)) in tiles.enumerated() {
            let x = gap + (i % columns) * (image.width + gap)
            let y = gap + (i / columns) * (image.height + label + gap)
            try canvas.draw(tile, x: x, y: y)
            let text = canvas.fitting(word, width: Double(image.width), size: labelSize)
            canvas.text(text, x: Double(x) + Double(image.width) / 2, y: Double(y + image.height) + 4 + font.ascent,
                        size: labelSize, align: .center)
        }
        return try canvas.image()
    }
}
