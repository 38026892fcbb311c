/// Convolution kernels drawn as the homework draws them: each kernel min-max normalised to
/// [0, 1] on its own and shown in grey (black = its minimum, white = its maximum), tiled
/// `perRow` to a row with a small gap. A constant kernel has no range and shows mid grey.
public enum FilterGrid {
    /// Gaps are steel blue rather than white or black so kernel edges stay visible whatever
    /// their border pixels are.
    public static let gapColor = Color(hex: 0x5b7fa6)

    /// Title text size: matplotlib's suptitle ("large", 12 pt at 100 dpi).
    static let titleSize = 12 * 100.0 / 72

    /// `kernels` are kh*kw values each, row-major; `scale` is screen pixels per kernel pixel,
    /// each kernel pixel a crisp square (nearest-neighbour). Kernels of another size, and
    /// non-finite values, are drawn red so they are noticed.
    public static func render(kernels: [[Float]], kh: Int, kw: Int, perRow: Int = 8, scale: Int = 24,
                              gap: Int = 2, title: String? = nil) throws -> Image {
        try draw(kernels: kernels, kh: kh, kw: kw, perRow: perRow, scale: scale, gap: gap, title: title).image()
    }

    /// The height of the title band above the grid (0 without a title).
    static func titleHeight(_ title: String?, _ canvas: Canvas) -> Int {
        guard let title, !title.isEmpty else { return 0 }
        return Int((canvas.fontMetrics(size: titleSize).lineHeight + 12).rounded(.up))
    }

    static func draw(kernels: [[Float]], kh: Int, kw: Int, perRow: Int, scale: Int, gap: Int, title: String?) throws -> Canvas {
        guard (1...4096).contains(kh), (1...4096).contains(kw), (1...1024).contains(scale), (0...1024).contains(gap),
              kernels.count <= 1 << 20 else {
            throw DrawingError("cannot draw \(kernels.count) kernels of \(kh)x\(kw) at scale \(scale) with gap \(gap): sizes out of range")
        }
        let (s, g) = (scale, gap)
        let columns = max(1, min(max(1, perRow), kernels.count))
        let rows = max(1, (kernels.count + columns - 1) / columns)
        let measure = try Canvas(width: 1, height: 1)
        let titleHeight = Self.titleHeight(title, measure)
        let titleWidth = title.map { Int(measure.textWidth($0, size: titleSize).rounded(.up)) + 16 } ?? 0
        let gridWidth = columns * kw * s + (columns + 1) * g
        let width = max(gridWidth, titleWidth)
        let canvas = try Canvas(width: width, height: titleHeight + rows * kh * s + (rows + 1) * g)
        if let title, !title.isEmpty {
            let font = canvas.fontMetrics(size: titleSize)
            canvas.text(title, x: Double(width) / 2, y: 6 + font.ascent, size: titleSize, align: .center)
        }
        let xOffset = (width - gridWidth) / 2
        canvas.fillRect(x: Double(xOffset), y: Double(titleHeight), width: Double(gridWidth),
                        height: Double(canvas.height - titleHeight), color: gapColor)
        for (index, kernel) in kernels.enumerated() {
            let ox = xOffset + g + (index % columns) * (kw * s + g)
            let oy = titleHeight + g + (index / columns) * (kh * s + g)
            try canvas.draw(image(kernel, kh: kh, kw: kw), x: ox, y: oy, scale: s)
        }
        try canvas.check("drawing the filter grid")
        return canvas
    }

    /// One kernel at one pixel per weight: grey from its own minimum (black) to maximum (white).
    static func image(_ kernel: [Float], kh: Int, kw: Int) -> Image {
        let invalid = Color(214, 39, 40)
        guard kernel.count == kh * kw else { return Image(width: kw, height: kh, fill: invalid) }
        var img = Image(width: kw, height: kh)
        for (i, v) in normalised(kernel).enumerated() {
            img.set(i % kw, i / kw, v.map { Color(gray: UInt8(($0 * 255).rounded())) } ?? invalid)
        }
        return img
    }

    /// The kernels of input channel `inputChannel` from a convolution weight laid out
    /// [out, in, kh, kw] (C order), one kh*kw kernel per output channel: what the homework
    /// draws for the second layer (channel 0 of each of its 32 kernels), and for the first layer
    /// (whose only input channel is 0). Nil when the sizes do not match.
    public static func kernels(weight: [Float], outChannels: Int, inChannels: Int, kh: Int, kw: Int,
                               inputChannel: Int = 0) -> [[Float]]? {
        guard outChannels >= 0, inChannels > 0, kh > 0, kw > 0, (0..<inChannels).contains(inputChannel),
              weight.count == outChannels * inChannels * kh * kw else { return nil }
        let size = kh * kw
        return (0..<outChannels).map { o in
            let start = (o * inChannels + inputChannel) * size
            return Array(weight[start..<(start + size)])
        }
    }

    /// Min-max normalisation to [0, 1]; nil for non-finite values; 0.5 for a constant kernel.
    public static func normalised(_ kernel: [Float]) -> [Double?] {
        let finite = kernel.filter(\.isFinite).map(Double.init)
        guard let lo = finite.min(), let hi = finite.max() else { return kernel.map { _ in nil } }
        let span = hi - lo
        return kernel.map { v in
            guard v.isFinite else { return nil }
            return span > 0 ? (Double(v) - lo) / span : 0.5
        }
    }

    /// Renders and writes a PNG atomically; a failure names `path`.
    public static func write(png path: String, kernels: [[Float]], kh: Int, kw: Int, perRow: Int = 8,
                             scale: Int = 24, title: String? = nil) throws {
        try PNG.write(to: path) { try draw(kernels: kernels, kh: kh, kw: kw, perRow: perRow, scale: scale, gap: 2, title: title) }
    }
}
