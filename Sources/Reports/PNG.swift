import Foundation
import GraphIR

/// PNG files of images and plots, encoded by cairo (libpng and zlib underneath) and written
/// atomically, so a reader never sees half a picture.
public enum PNG {
    /// The PNG bytes of `image`: 8-bit RGB when it is opaque, else 8-bit RGBA.
    public static func encode(_ image: Image) throws -> Data {
        try Canvas(image).png()
    }

    /// Encodes and writes atomically (temporary file + rename).
    public static func write(_ image: Image, to path: String) throws {
        try write(to: path) { try Canvas(image) }
    }

    /// Draws with `draw` and writes the canvas; every failure names `path`.
    static func write(to path: String, _ draw: () throws -> Canvas) throws {
        let data: Data
        do { data = try draw().png() } catch let e as DrawingError { throw FileError(path, e.problem) }
        do {
            try AtomicFile.write(data, to: URL(fileURLWithPath: path))
        } catch {
            throw FileError(path, "cannot write PNG: \(error.localizedDescription)")
        }
    }
}
