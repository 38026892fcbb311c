/// An 8-bit colour with alpha (straight, not premultiplied).
public struct Color: Equatable, Sendable {
    public var r: UInt8, g: UInt8, b: UInt8, a: UInt8

    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8, _ a: UInt8 = 255) {
        self.r = r; self.g = g; self.b = b; self.a = a
    }

    /// `0xRRGGBB`.
    public init(hex: UInt32) {
        self.init(UInt8(hex >> 16 & 0xff), UInt8(hex >> 8 & 0xff), UInt8(hex & 0xff))
    }

    public init(gray: UInt8) { self.init(gray, gray, gray) }

    public static let white = Color(255, 255, 255)
    public static let black = Color(0, 0, 0)
    public static let clear = Color(0, 0, 0, 0)
}

/// An RGBA8 raster, row-major from the top-left corner: photos, attention overlays, and what
/// plots render to (drawing itself is done by cairo, see `Canvas`).
public struct Image: Equatable {
    public let width: Int
    public let height: Int
    /// `width * height * 4` bytes: r, g, b, a per pixel.
    public var rgba: [UInt8]

    public init(width: Int, height: Int, fill: Color = .white) {
        self.width = max(0, width)
        self.height = max(0, height)
        rgba = [UInt8](repeating: 0, count: self.width * self.height * 4)
        if fill != .clear {
            for i in stride(from: 0, to: rgba.count, by: 4) {
                rgba[i] = fill.r; rgba[i + 1] = fill.g; rgba[i + 2] = fill.b; rgba[i + 3] = fill.a
            }
        }
    }

    public func pixel(_ x: Int, _ y: Int) -> Color? {
        guard x >= 0, y >= 0, x < width, y < height else { return nil }
        let i = (y * width + x) * 4
        return Color(rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3])
    }

    /// Replaces a pixel; points outside the image are ignored so callers can draw freely.
    public mutating func set(_ x: Int, _ y: Int, _ c: Color) {
        guard x >= 0, y >= 0, x < width, y < height else { return }
        let i = (y * width + x) * 4
        rgba[i] = c.r; rgba[i + 1] = c.g; rgba[i + 2] = c.b; rgba[i + 3] = c.a
    }
}
