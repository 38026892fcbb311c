import CCairo
import Foundation

/// Why a picture could not be drawn: a size out of range, or cairo reporting a failure.
/// Writers add the file they were writing (`FileError`).
public struct DrawingError: Error, CustomStringConvertible, Equatable {
    public var problem: String
    public init(_ problem: String) { self.problem = problem }
    public var description: String { problem }
}

/// A cairo image surface and its drawing context: anti-aliased paths, text in DejaVu Sans
/// (cairo's toy font API, resolved by fontconfig from the system's fonts, never the network),
/// and images placed with nearest-neighbour scaling. Coordinates are pixels from the top-left
/// corner; pixel (i, j) covers [i, i+1) x [j, j+1), so a 1-pixel line is crisp at i + 0.5.
final class Canvas {
    /// Each side is at most this many pixels (cairo itself stops at 32767).
    static let maxSide = 16384
    /// And the whole surface at most this many pixels (256 MB of ARGB32).
    static let maxPixels = 64 << 20
    static let fontFamily = "DejaVu Sans"

    let width: Int
    let height: Int
    private let surface: OpaquePointer
    private let cr: OpaquePointer

    /// A canvas filled with `background`. Sizes are checked before cairo allocates anything.
    init(width: Int, height: Int, background: Color = .white) throws {
        try Canvas.checkSize(width: width, height: height)
        self.width = width
        self.height = height
        surface = cairo_image_surface_create(CAIRO_FORMAT_ARGB32, Int32(width), Int32(height))
        if let problem = Canvas.problem(cairo_surface_status(surface)) {
            cairo_surface_destroy(surface)
            throw DrawingError("cairo cannot create a \(width)x\(height) image: \(problem)")
        }
        cr = cairo_create(surface)
        if let problem = Canvas.problem(cairo_status(cr)) {
            cairo_destroy(cr)
            cairo_surface_destroy(surface)
            throw DrawingError("cairo cannot draw on a \(width)x\(height) image: \(problem)")
        }
        let options = cairo_font_options_create()
        // Grey anti-aliasing (no colour fringes) and unhinted metrics, so text widths scale
        // with the font size and layouts do not jump between sizes.
        cairo_font_options_set_antialias(options, CAIRO_ANTIALIAS_GRAY)
        cairo_font_options_set_hint_metrics(options, CAIRO_HINT_METRICS_OFF)
        cairo_set_font_options(cr, options)
        cairo_font_options_destroy(options)
        cairo_select_font_face(cr, Canvas.fontFamily, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
        if background != .clear { fillRect(x: 0, y: 0, width: Double(width), height: Double(height), color: background) }
    }

    /// A canvas holding `image`'s pixels.
    convenience init(_ image: Image) throws {
        try self.init(width: image.width, height: image.height, background: .clear)
        cairo_surface_flush(surface)
        let stride = Int(cairo_image_surface_get_stride(surface))
        guard let base = cairo_image_surface_get_data(surface) else { throw DrawingError("cairo gave no pixel data") }
        for y in 0..<height {
            let row = (base + y * stride).withMemoryRebound(to: UInt32.self, capacity: width) { $0 }
            for x in 0..<width {
                let i = (y * width + x) * 4
                let a = UInt32(image.rgba[i + 3])
                func pre(_ c: UInt8) -> UInt32 { (UInt32(c) * a + 127) / 255 }
                row[x] = a << 24 | pre(image.rgba[i]) << 16 | pre(image.rgba[i + 1]) << 8 | pre(image.rgba[i + 2])
            }
        }
        cairo_surface_mark_dirty(surface)
    }

    deinit {
        cairo_destroy(cr)
        cairo_surface_destroy(surface)
    }

    static func checkSize(width: Int, height: Int) throws {
        guard (1...maxSide).contains(width), (1...maxSide).contains(height), width * height <= maxPixels else {
            throw DrawingError("cannot draw a \(width)x\(height) image: each side must be 1...\(maxSide) pixels and the area at most \(maxPixels) pixels")
        }
    }

    private static func problem(_ status: cairo_status_t) -> String? {
        status == CAIRO_STATUS_SUCCESS ? nil : String(cString: cairo_status_to_string(status))
    }

    /// Throws if cairo has put the context or surface into an error state.
    func check(_ what: String) throws {
        if let problem = Canvas.problem(cairo_status(cr)) ?? Canvas.problem(cairo_surface_status(surface)) {
            throw DrawingError("cairo failed while \(what): \(problem)")
        }
    }

    // MARK: Shapes

    private func setColor(_ c: Color) {
        cairo_set_source_rgba(cr, Double(c.r) / 255, Double(c.g) / 255, Double(c.b) / 255, Double(c.a) / 255)
    }

    func fillRect(x: Double, y: Double, width w: Double, height h: Double, color: Color) {
        setColor(color)
        cairo_rectangle(cr, x, y, w, h)
        cairo_fill(cr)
    }

    /// A rectangle outline of `lineWidth` centred on the given edges, corners rounded by `radius`.
    func strokeRect(x: Double, y: Double, width w: Double, height h: Double, color: Color,
                    lineWidth: Double = 1, radius: Double = 0, fill: Color? = nil) {
        if radius > 0 {
            let r = min(radius, w / 2, h / 2)
            cairo_new_sub_path(cr)
            cairo_arc(cr, x + w - r, y + r, r, -Double.pi / 2, 0)
            cairo_arc(cr, x + w - r, y + h - r, r, 0, Double.pi / 2)
            cairo_arc(cr, x + r, y + h - r, r, Double.pi / 2, Double.pi)
            cairo_arc(cr, x + r, y + r, r, Double.pi, 3 * Double.pi / 2)
            cairo_close_path(cr)
        } else {
            cairo_rectangle(cr, x, y, w, h)
        }
        if let fill {
            setColor(fill)
            cairo_fill_preserve(cr)
        }
        setColor(color)
        cairo_set_line_width(cr, lineWidth)
        cairo_stroke(cr)
    }

    enum Cap { case butt, square }

    /// Polylines (each a run of points) stroked with round joins; square caps by default, as
    /// matplotlib strokes solid lines.
    func strokeLines(_ runs: [[(x: Double, y: Double)]], width lineWidth: Double, color: Color, cap: Cap = .square) {
        for run in runs where !run.isEmpty {
            cairo_move_to(cr, run[0].x, run[0].y)
            for p in run.dropFirst() { cairo_line_to(cr, p.x, p.y) }
        }
        setColor(color)
        cairo_set_line_width(cr, lineWidth)
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND)
        cairo_set_line_cap(cr, cap == .square ? CAIRO_LINE_CAP_SQUARE : CAIRO_LINE_CAP_BUTT)
        cairo_stroke(cr)
    }

    func fillCircle(x: Double, y: Double, radius: Double, color: Color) {
        cairo_new_sub_path(cr)
        cairo_arc(cr, x, y, radius, 0, 2 * Double.pi)
        setColor(color)
        cairo_fill(cr)
    }

    /// Limits drawing to a rectangle until `body` returns.
    func clipped(x: Double, y: Double, width w: Double, height h: Double, _ body: () -> Void) {
        cairo_save(cr)
        cairo_rectangle(cr, x, y, w, h)
        cairo_clip(cr)
        body()
        cairo_restore(cr)
    }

    /// `image` with its top-left corner at (x, y), each of its pixels a `scale` x `scale`
    /// square (nearest-neighbour: no smoothing between pixels).
    func draw(_ image: Image, x: Int, y: Int, scale: Int = 1) throws {
        guard image.width > 0, image.height > 0 else { return }
        let source = try Canvas(image)
        cairo_save(cr)
        cairo_translate(cr, Double(x), Double(y))
        cairo_scale(cr, Double(scale), Double(scale))
        cairo_set_source_surface(cr, source.surface, 0, 0)
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST)
        cairo_rectangle(cr, 0, 0, Double(image.width), Double(image.height))
        cairo_fill(cr)
        cairo_restore(cr)
    }

    // MARK: Text

    enum Align { case left, center, right }

    struct FontMetrics {
        /// Height above and depth below the baseline of the font's tallest and deepest glyphs.
        var ascent: Double
        var descent: Double
        var lineHeight: Double { ascent + descent }
    }

    func fontMetrics(size: Double) -> FontMetrics {
        cairo_set_font_size(cr, size)
        var e = cairo_font_extents_t()
        cairo_font_extents(cr, &e)
        return FontMetrics(ascent: e.ascent, descent: e.descent)
    }

    /// The advance width of `text` at `size` pixels.
    func textWidth(_ text: String, size: Double) -> Double {
        cairo_set_font_size(cr, size)
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, text, &e)
        return e.x_advance
    }

    /// How far the ink of `text` rises above the baseline (for centring digits on a tick).
    func inkHeight(_ text: String, size: Double) -> Double {
        cairo_set_font_size(cr, size)
        var e = cairo_text_extents_t()
        cairo_text_extents(cr, text, &e)
        return -e.y_bearing
    }

    /// Draws `text` with its baseline through (x, y), aligned there horizontally; `vertical`
    /// turns it 90 degrees counter-clockwise (reading bottom to top, as y-axis labels do),
    /// `align` then running along the text.
    func text(_ text: String, x: Double, y: Double, size: Double, align: Align = .left,
              color: Color = .black, vertical: Bool = false) {
        guard !text.isEmpty else { return }
        let w = textWidth(text, size: size)
        let shift: Double
        switch align {
        case .left: shift = 0
        case .center: shift = -w / 2
        case .right: shift = -w
        }
        cairo_save(cr)
        cairo_translate(cr, x, y)
        if vertical { cairo_rotate(cr, -Double.pi / 2) }
        cairo_move_to(cr, shift, 0)
        setColor(color)
        cairo_show_text(cr, text)
        cairo_restore(cr)
    }

    /// `text` shortened with an ellipsis until it is at most `width` pixels wide.
    func fitting(_ text: String, width: Double, size: Double) -> String {
        guard textWidth(text, size: size) > width else { return text }
        var chars = Array(text)
        while !chars.isEmpty {
            chars.removeLast()
            let candidate = String(chars) + "…"
            if textWidth(candidate, size: size) <= width { return candidate }
        }
        return ""
    }

    // MARK: Output

    /// The pixels drawn so far, un-premultiplied.
    func image() throws -> Image {
        try check("drawing")
        cairo_surface_flush(surface)
        let stride = Int(cairo_image_surface_get_stride(surface))
        guard let base = cairo_image_surface_get_data(surface) else { throw DrawingError("cairo gave no pixel data") }
        var out = Image(width: width, height: height, fill: .clear)
        for y in 0..<height {
            let row = (base + y * stride).withMemoryRebound(to: UInt32.self, capacity: width) { $0 }
            for x in 0..<width {
                let p = row[x]
                let a = p >> 24
                func un(_ c: UInt32) -> UInt8 { a == 0 ? 0 : UInt8(min(255, (c * 255 + a / 2) / a)) }
                let i = (y * width + x) * 4
                out.rgba[i] = un(p >> 16 & 0xff)
                out.rgba[i + 1] = un(p >> 8 & 0xff)
                out.rgba[i + 2] = un(p & 0xff)
                out.rgba[i + 3] = UInt8(a)
            }
        }
        return out
    }

    /// The PNG bytes of the canvas, as cairo (libpng, zlib) encodes them: 8-bit RGB when every
    /// pixel is opaque, else 8-bit RGBA.
    func png() throws -> Data {
        try check("drawing")
        final class Sink { var data = Data() }
        let sink = Sink()
        let status = cairo_surface_write_to_png_stream(surface, { closure, bytes, length in
            guard let closure, let bytes else { return CAIRO_STATUS_WRITE_ERROR }
            Unmanaged<Sink>.fromOpaque(closure).takeUnretainedValue().data.append(bytes, count: Int(length))
            return CAIRO_STATUS_SUCCESS
        }, Unmanaged.passUnretained(sink).toOpaque())
        if let problem = Canvas.problem(status) { throw DrawingError("cairo cannot encode PNG: \(problem)") }
        return sink.data
    }
}
