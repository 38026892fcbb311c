#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What every reader checks before opening an input: that the path names a regular file (a
/// FIFO would block the open or the read forever, a device such as `/dev/zero` never ends, a
/// folder cannot be read), and, for files read whole, that it is not larger than the limit.
public enum InputFile {
    /// The largest model file (.swiftgraph or .gir) read: far above any real model, far below
    /// what reading it whole into memory would hurt.
    public static let maxModelBytes = 64 << 20

    /// Why `path` cannot be read as an input ("is a FIFO (named pipe), not a regular file"),
    /// or nil when it is a regular file of at most `maxBytes` bytes.
    public static func problem(_ path: String, maxBytes: Int? = nil) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            return errno == ENOENT ? "no such file" : String(cString: strerror(errno))
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return "is a directory, not a file"
        case S_IFIFO: return "is a FIFO (named pipe), not a regular file"
        case S_IFCHR, S_IFBLK: return "is a device, not a regular file"
        case S_IFSOCK: return "is a socket, not a regular file"
        default: return "is not a regular file"
        }
        if let maxBytes, Int(info.st_size) > maxBytes {
            return "is \(info.st_size) bytes, more than the \(maxBytes) bytes allowed"
        }
        return nil
    }
}
