/// Convolution kernels drawn as the homework draws them: each kernel min-max normalised to
/// [0, 1] on its own and shown in grey (black = its minimum, white = its maximum), tiled
/// `perRow` to a row with a small gap. A constant kernel has no range and shows mid grey.
public enum FilterGrid {
    /// Gaps are steel blue rather than white or black so kernel edges stay visible whatever
    /// their border pixels are.
    public static let gapColor = Color(hex: 0x5b7fa6)

    /// `kernels` are kh*kw values each, row-major; `scale` is screen pixels per kernel pixel.
    /// Kernels of another size, and non-finite values, are drawn red so they are noticed.
    public static func render(kernels: [[Float]], kh: Int, kw: Int, perRow: Int = 8, scale: Int = 24,
                              gap: Int = 2, title: String? = nil) -> Image {
        let kh = max(1, kh), kw = max(1, kw), s = max(1, scale), g = max(0, gap)
        let columns = max(1, min(max(1, perRow), kernels.count))
        let rows = (kernels.count + columns - 1) / columns
        let titleHeight = title.map { $0.isEmpty ? 0 : BitmapFont.ascent * 2 + 16 } ?? 0
        let gridWidth = columns * kw * s + (columns + 1) * g
        let width = max(gridWidth, title.map { Image.textSize($0, scale: 2).width + 16 } ?? 0)
        let height = titleHeight + max(1, rows) * kh * s + (max(1, rows) + 1) * g
        var img = Image(width: width, height: height, fill: .white)
        if let title, !title.isEmpty {
            let w = Image.textSize(title, scale: 2).width
            img.drawText(title, x: (width - w) / 2, y: 8, scale: 2, color: .black)
        }
        let xOffset = (width - gridWidth) / 2
        img.fillRect(x: xOffset, y: titleHeight, width: gridWidth, height: height - titleHeight, color: gapColor)
        let invalid = Color(214, 39, 40)
        for (index, kernel) in kernels.enumerated() {
            let ox = xOffset + g + (index % columns) * (kw * s + g)
            let oy = titleHeight + g + (index / columns) * (kh * s + g)
            guard kernel.count == kh * kw else {
                img.fillRect(x: ox, y: oy, width: kw * s, height: kh * s, color: invalid)
                continue
            }
            let values = normalised(kernel)
            for r in 0..<kh {
                for c in 0..<kw {
                    let color: Color
                    if let v = values[r * kw + c] {
                        color = Color(gray: UInt8((v * 255).rounded()))
                    } else {
                        color = invalid
                    }
                    img.fillRect(x: ox + c * s, y: oy + r * s, width: s, height: s, color: color)
                }
            }
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

    /// Renders and writes a PNG (grey) atomically.
    public static func write(png path: String, kernels: [[Float]], kh: Int, kw: Int, perRow: Int = 8,
                             scale: Int = 24, title: String? = nil) throws {
        let img = render(kernels: kernels, kh: kh, kw: kw, perRow: perRow, scale: scale, title: title)
        try PNG.write(img, to: path, format: .rgb8)
    }
}
