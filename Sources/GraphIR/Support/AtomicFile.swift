import Foundation

/// Writes results and checkpoints so that nothing is ever half-written: the bytes go to a
/// temporary name in the same folder, which is then renamed over the target.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { try writeBytes(data, to: $0.path) }
    }

    /// Writes with POSIX calls so a failure says why ("File too large" past `ulimit -f`, "No
    /// space left on device"): Foundation's `Data.write` reports only "error 512" here.
    static func writeBytes(_ data: Data, to path: String) throws {
        func failure() -> CocoaError {
            CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: String(cString: strerror(errno))])
        }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw failure() }
        var written = 0
        let ok = data.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return true
        }
        if !ok { let e = failure(); close(fd); throw e }
        guard close(fd) == 0 else { throw failure() }
    }

    /// For writers that need a path (e.g. libhdf5): `body` writes the temporary file, which is
    /// then renamed over `url`, or removed when `body` throws.
    public static func write(to url: URL, using body: (URL) throws -> Void) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
        do {
            try body(tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw error
        }
        if rename(tmp.path, url.path) != 0 {
            let err = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: tmp)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "cannot rename \(tmp.path) to \(url.path): \(err)"])
        }
    }

    public static func write(_ text: String, to url: URL) throws {
        try write(Data(text.utf8), to: url)
    }

    public static func write(_ text: String, toPath path: String) throws {
        try write(Data(text.utf8), to: URL(fileURLWithPath: path))
    }
}
