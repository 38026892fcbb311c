import Foundation
import Runtime
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A results folder (`--out`) replaced whole: a run writes into a fresh sibling folder
/// (`.NAME.partial-PID`) that starts as hard links to the previous results, and swaps it in when
/// it has finished. Until the swap the previous results stay as they were; a run that fails, is
/// killed or fills the disk leaves them whole, never a `metrics.json` of the new run beside the
/// old run's checkpoint. Hard links are safe because graphc never writes into a file in place:
/// every file is written to a temporary name and renamed (`AtomicFile`), which replaces the link.
///
/// The folder is locked for the run's life by `.NAME.lock` beside it (an `flock` held by this
/// process, holding its PID): a second run on the same folder stops with the first one's PID,
/// and the lock of a run that died is taken over with a note. Leftovers of a run that died
/// (its partial folder, or the previous results set aside during a swap) are cleaned up then.
///
/// Every command that writes a results folder goes through here: training, evaluation of a
/// caption model, the attention study and feature extraction into a folder.
public final class ResultsFolder {
    /// The folder the results end up in.
    public let path: String
    /// Where this run writes; becomes `path` at `commit`.
    public let staging: String
    /// Things worth telling the user (a stale lock taken over).
    public private(set) var notes: [String] = []
    private let lock: FolderLock
    private var finished = false

    /// The file that marks a folder as graphc's results, and names that marked one before it.
    public static let marker = ".graphc-results"
    static let resultNames: Set<String> = [marker, "metrics.json", "report.md", "study.json", "all_features.hdf5"]

    /// Most entries of a previous results folder carried over by hard links: a folder of more
    /// is not a results folder (a home directory given as `--out` by mistake).
    public static let maxCarriedEntries = 10_000

    /// Locks `path` and makes the staging folder beside it. `carryOver`: the staging folder
    /// starts as the previous results (a caption run adds its decoder's results beside the
    /// other decoder's); otherwise it starts empty and the folder is replaced by this run's
    /// results alone.
    public init(_ path: String, flag: String = "--out", carryOver: Bool = true) throws {
        let fm = FileManager.default
        let url = URL(fileURLWithPath: path).standardizedFileURL
        self.path = url.path
        let parent = url.deletingLastPathComponent().path
        let name = url.lastPathComponent
        guard !name.isEmpty, name != "/", name != ".", name != ".." else {
            throw RuntimeError("\(flag) \(path): give a folder with a name (not the root or '.')")
        }
        var isFolder: ObjCBool = false
        if fm.fileExists(atPath: self.path, isDirectory: &isFolder), !isFolder.boolValue {
            throw RuntimeError("\(flag) \(path): is a file, not a folder; give a results folder (an existing folder or a new name)")
        }
        // The folder is replaced whole: one holding something else (a home directory, a data
        // folder) is refused rather than moved away.
        if let entries = try? fm.contentsOfDirectory(atPath: self.path), !entries.isEmpty,
           !entries.contains(where: ResultsFolder.resultNames.contains) {
            throw RuntimeError("\(flag) \(path): the folder holds files graphc did not write (\(entries.sorted().prefix(3).joined(separator: ", "))\(entries.count > 3 ? ", ..." : "")); "
                + "graphc replaces its results folder whole: give a new or empty folder, or one graphc wrote")
        }
        do { try fm.createDirectory(atPath: parent, withIntermediateDirectories: true) } catch {
            throw RuntimeError("\(flag) \(path): cannot create the folder it goes in, \(parent) (\(error.localizedDescription))")
        }
        let lockPath = (parent as NSString).appendingPathComponent(".\(name).lock")
        lock = try FolderLock(lockPath, folder: path, flag: flag)
        if let stale = lock.staleOwner { notes.append("\(flag) \(path): took over the lock of process \(stale), which is no longer running") }
        staging = (parent as NSString).appendingPathComponent(".\(name).partial-\(getpid())")
        do {
            try ResultsFolder.cleanLeftovers(parent: parent, name: name, folder: self.path, notes: &notes)
            try? fm.removeItem(atPath: staging)
            if carryOver, fm.fileExists(atPath: self.path) {
                var carried = 0
                try ResultsFolder.linkTree(from: self.path, to: staging, carried: &carried, flag: flag)
            } else {
                try fm.createDirectory(atPath: staging, withIntermediateDirectories: false)
            }
            guard fm.createFile(atPath: file(ResultsFolder.marker), contents: Data("written by graphc\n".utf8)) else {
                throw RuntimeError("\(flag) \(path): the folder beside it, \(parent), is not writable")
            }
        } catch {
            try? fm.removeItem(atPath: staging)
            lock.release()
            if error is RuntimeError { throw error }
            throw RuntimeError("\(flag) \(path): cannot prepare the results folder (\(error.localizedDescription))")
        }
    }

    deinit { discard() }

    /// A path inside the staging folder.
    public func file(_ name: String) -> String { (staging as NSString).appendingPathComponent(name) }

    /// Replaces the results folder by the staging folder in one step (an atomic exchange where
    /// the file system has one), removes the previous results and unlocks.
    public func commit() throws {
        guard !finished else { return }
        defer { discard() }
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            guard rename(staging, path) == 0 else { throw swapError() }
        } else if ResultsFolder.exchange(staging, path) {
            try? fm.removeItem(atPath: staging)   // now the previous results
        } else {
            // No atomic exchange: set the previous results aside, move the new ones in, and
            // put the previous ones back if that fails. A run killed between the two renames
            // leaves `.NAME.previous-PID`, which the next run on this folder restores.
            let previous = staging.replacingOccurrences(of: ".partial-", with: ".previous-")
            guard rename(path, previous) == 0 else { throw swapError() }
            guard rename(staging, path) == 0 else {
                let e = swapError()
                _ = rename(previous, path)
                throw e
            }
            try? fm.removeItem(atPath: previous)
        }
        finished = true
    }

    /// Removes the staging folder (when not committed) and unlocks; every error path ends here.
    public func discard() {
        if !finished { try? FileManager.default.removeItem(atPath: staging) }
        finished = true
        lock.release()
    }

    private func swapError() -> RuntimeError {
        RuntimeError("cannot move the new results into \(path) (\(String(cString: strerror(errno)))); they are in \(staging)")
    }

    /// `rename` with RENAME_EXCHANGE (Linux 3.15+, glibc 2.28+), looked up at run time since
    /// Swift's Glibc module does not declare it; false when unavailable or unsupported.
    static func exchange(_ a: String, _ b: String) -> Bool {
        #if os(Linux)
        typealias RenameAt2 = @convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "renameat2") else { return false }
        let renameat2 = unsafeBitCast(symbol, to: RenameAt2.self)
        let renameExchange: UInt32 = 2
        return renameat2(AT_FDCWD, a, AT_FDCWD, b, renameExchange) == 0
        #else
        return false
        #endif
    }

    /// Copies the folder tree `from` into `to` as hard links (a plain copy across file systems).
    static func linkTree(from: String, to: String, carried: inout Int, flag: String) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: to, withIntermediateDirectories: false)
        for entry in try fm.contentsOfDirectory(atPath: from) {
            carried += 1
            guard carried <= maxCarriedEntries else {
                throw RuntimeError("\(flag): the folder holds more than \(maxCarriedEntries) entries: not a results folder; give a new or empty folder")
            }
            let src = (from as NSString).appendingPathComponent(entry), dst = (to as NSString).appendingPathComponent(entry)
            var st = stat()
            guard lstat(src, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFDIR: try linkTree(from: src, to: dst, carried: &carried, flag: flag)
            case S_IFREG: if link(src, dst) != 0 { try fm.copyItem(atPath: src, toPath: dst) }
            case S_IFLNK: try fm.createSymbolicLink(atPath: dst, withDestinationPath: try fm.destinationOfSymbolicLink(atPath: src))
            default: continue   // sockets, FIFOs, devices are not results
            }
        }
    }

    /// Under the lock, what runs that died left beside the folder: partial folders (removed) and
    /// previous results set aside during a swap (put back when the folder itself is missing).
    static func cleanLeftovers(parent: String, name: String, folder: String, notes: inout [String]) throws {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: parent) else { return }
        for entry in entries where entry.hasPrefix(".\(name).previous-") {
            let p = (parent as NSString).appendingPathComponent(entry)
            if !fm.fileExists(atPath: folder), rename(p, folder) == 0 {
                notes.append("\(folder): restored the previous results, which a run that died while swapping had set aside")
            } else {
                try? fm.removeItem(atPath: p)
            }
        }
        for entry in entries where entry.hasPrefix(".\(name).partial-") {
            try? fm.removeItem(atPath: (parent as NSString).appendingPathComponent(entry))
        }
    }
}

/// An exclusive `flock` on a lock file holding the owner's PID.
final class FolderLock {
    private var fd: Int32 = -1
    let path: String
    /// The PID written by a previous owner that no longer holds the lock.
    private(set) var staleOwner: Int32?

    init(_ path: String, folder: String, flag: String) throws {
        self.path = path
        // Another process may remove or replace the file between open and flock: retry until
        // the locked file is the one at `path`.
        for _ in 0..<8 {
            let f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            guard f >= 0 else {
                throw RuntimeError("\(flag) \(folder): cannot create the lock file \(path) (\(String(cString: strerror(errno))))")
            }
            if flock(f, LOCK_EX | LOCK_NB) != 0 {
                let owner = FolderLock.readPID(f)
                close(f)
                throw RuntimeError("\(flag) \(folder) is in use by another graphc run"
                    + (owner.map { " (process \($0))" } ?? "") + "; wait for it to finish or choose another results folder (lock: \(path))")
            }
            var a = stat(), b = stat()
            guard fstat(f, &a) == 0, stat(path, &b) == 0, a.st_ino == b.st_ino, a.st_dev == b.st_dev else { close(f); continue }
            if let previous = FolderLock.readPID(f), previous != getpid() { staleOwner = previous }
            let text = "\(getpid())\n"
            guard ftruncate(f, 0) == 0, pwrite(f, text, text.utf8.count, 0) == text.utf8.count else {
                let reason = String(cString: strerror(errno))
                close(f)
                throw RuntimeError("\(flag) \(folder): cannot write the lock file \(path) (\(reason))")
            }
            fd = f
            return
        }
        throw RuntimeError("\(flag) \(folder): could not lock \(path): it keeps being replaced")
    }

    static func readPID(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, 31, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// Removes the lock file, then unlocks (a run waiting on the old file sees it replaced).
    func release() {
        guard fd >= 0 else { return }
        unlink(path)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
