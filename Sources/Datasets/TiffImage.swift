import GraphIR
import CTIFF
import Foundation

/// TIFF images through libtiff, whatever compression libtiff handles (the Sydney-Captions
/// images are JPEG-in-TIFF YCbCr; the originals PackBits). libtiff's messages are collected per
/// file instead of going to stderr, and end up in the thrown error.
public enum TiffImage {
    /// torchvision's ImageNet normalisation, used by the ResNet-18 encoder.
    public static let imageNetMean: [Float] = [0.485, 0.456, 0.406]
    public static let imageNetStd: [Float] = [0.229, 0.224, 0.225]

    /// Refuses images whose RGBA raster would exceed 1 GiB (a corrupt header, not a photo).
    static let maxPixels = 1 << 28

    /// Decodes the first image of `path` to 8-bit RGB, rows top to bottom, HWC order.
    public static func readRGB(path: String) throws -> (width: Int, height: Int, pixels: [UInt8]) {
        try requireFile(path)

        let log = TiffMessageLog()
        guard let options = TIFFOpenOptionsAlloc() else {
            throw FileError(path, "libtiff could not allocate open options")
        }
        defer { TIFFOpenOptionsFree(options) }
        let context = Unmanaged.passUnretained(log).toOpaque()
        TIFFOpenOptionsSetErrorHandlerExtR(options, tiffCollectError, context)
        TIFFOpenOptionsSetWarningHandlerExtR(options, tiffCollectWarning, context)

        // withExtendedLifetime: libtiff holds `context` (an unretained pointer to `log`) until close.
        return try withExtendedLifetime(log) {
            guard let tif = TIFFOpenExt(path, "r", options) else {
                throw failure(path, log, "not a readable TIFF file")
            }
            defer { TIFFClose(tif) }
            var w: UInt32 = 0, h: UInt32 = 0
            guard getUInt32(tif, UInt32(TIFFTAG_IMAGEWIDTH), &w), getUInt32(tif, UInt32(TIFFTAG_IMAGELENGTH), &h) else {
                throw failure(path, log, "missing image width or height")
            }
            let width = Int(w), height = Int(h)
            guard width > 0, height > 0, width <= maxPixels / height else {
                throw failure(path, log, "unusable image size \(width)x\(height)")
            }
            var raster = [UInt32](repeating: 0, count: width * height)
            let ok = raster.withUnsafeMutableBufferPointer { buf in
                TIFFReadRGBAImageOriented(tif, w, h, buf.baseAddress, Int32(ORIENTATION_TOPLEFT), 1)
            }
            // libtiff can report an error (e.g. a truncated strip) and still return success.
            guard ok == 1, log.errors.isEmpty else {
                throw failure(path, log, "cannot decode the \(width)x\(height) image")
            }
            var pixels = [UInt8](repeating: 0, count: width * height * 3)
            for i in 0..<(width * height) {
                let abgr = raster[i]  // libtiff packs R in the low byte
                pixels[3 * i] = UInt8(truncatingIfNeeded: abgr)
                pixels[3 * i + 1] = UInt8(truncatingIfNeeded: abgr >> 8)
                pixels[3 * i + 2] = UInt8(truncatingIfNeeded: abgr >> 16)
            }
            return (width, height, pixels)
        }
    }

    /// HWC RGB bytes -> CHW floats, `x / 255` then `(x - mean) / std` per channel in Float32,
    /// as torchvision's ToTensor + Normalize do.
    public static func normalizedCHW(width: Int, height: Int, pixels: [UInt8],
                                     mean: [Float] = imageNetMean, std: [Float] = imageNetStd) -> [Float] {
        let plane = width * height
        var out = [Float](repeating: 0, count: 3 * plane)
        guard pixels.count >= 3 * plane, mean.count >= 3, std.count >= 3 else { return out }
        for c in 0..<3 {
            let m = mean[c], s = std[c]
            for i in 0..<plane {
                out[c * plane + i] = (Float(pixels[3 * i + c]) / 255 - m) / s
            }
        }
        return out
    }

    /// `readRGB` then `normalizedCHW`: the encoder's input for one image.
    public static func readNormalizedCHW(path: String) throws -> (width: Int, height: Int, values: [Float]) {
        let img = try readRGB(path: path)
        return (img.width, img.height, normalizedCHW(width: img.width, height: img.height, pixels: img.pixels))
    }

    private static func getUInt32(_ tif: OpaquePointer, _ tag: UInt32, _ out: inout UInt32) -> Bool {
        withUnsafeMutablePointer(to: &out) { p in tiffGetFieldUInt32(tif, tag, p) } == 1
    }

    private static func failure(_ path: String, _ log: TiffMessageLog, _ what: String) -> FileError {
        let detail = log.errors.isEmpty ? "" : " (libtiff: \(log.errors.joined(separator: "; ")))"
        return FileError(path, what + detail)
    }
}

/// Messages libtiff reports while one file is open.
final class TiffMessageLog {
    var errors: [String] = []
    var warnings: [String] = []
}

/// TIFFGetField is variadic, which Swift cannot call; its va_list twin takes the out-pointer.
private func tiffGetFieldUInt32(_ tif: OpaquePointer, _ tag: UInt32, _ out: UnsafeMutablePointer<UInt32>) -> Int32 {
    withVaList([out]) { TIFFVGetField(tif, tag, $0) }
}

private func tiffFormat(_ module: UnsafePointer<CChar>?, _ fmt: UnsafePointer<CChar>?, _ args: CVaListPointer?) -> String {
    guard let fmt else { return "" }
    var buffer = [UInt8](repeating: 0, count: 1024)
    if let args {
        _ = buffer.withUnsafeMutableBufferPointer { buf in
            buf.baseAddress.map { $0.withMemoryRebound(to: CChar.self, capacity: buf.count) { vsnprintf($0, buf.count, fmt, args) } }
        }
    } else {
        let raw = String(cString: fmt).utf8.prefix(buffer.count - 1)
        buffer.replaceSubrange(0..<raw.count, with: raw)
    }
    let text = String(decoding: buffer.prefix(while: { $0 != 0 }), as: UTF8.self)
    if let module, module.pointee != 0 { return "\(String(cString: module)): \(text)" }
    return text
}

// Returning 1 tells libtiff the message was handled, so its global stderr handler is not called.
private let tiffCollectError: TIFFErrorHandlerExtR = { _, context, module, fmt, args in
    guard let context else { return 1 }
    Unmanaged<TiffMessageLog>.fromOpaque(context).takeUnretainedValue().errors.append(tiffFormat(module, fmt, args))
    return 1
}

private let tiffCollectWarning: TIFFErrorHandlerExtR = { _, context, module, fmt, args in
    guard let context else { return 1 }
    Unmanaged<TiffMessageLog>.fromOpaque(context).takeUnretainedValue().warnings.append(tiffFormat(module, fmt, args))
    return 1
}
