import GraphIR
import Foundation

/// A `.npz` archive (what numpy.savez / savez_compressed write): a zip file whose entries are
/// `.npy` files, stored or deflated.
public struct NPZArchive {
    public let path: String
    private let archive: ZipArchive
    private let entries: [String: ZipArchive.Entry]

    /// Array names, i.e. entry names without the `.npy` suffix, in archive order.
    public let keys: [String]

    public init(path: String) throws {
        try self.init(data: try readFile(path), path: path)
    }

    public init(data: Data, path: String) throws {
        self.path = path
        archive = try ZipArchive(path: path, bytes: [UInt8](data))
        var map: [String: ZipArchive.Entry] = [:]
        var keys: [String] = []
        for e in archive.entries {
            let key = e.name.hasSuffix(".npy") ? String(e.name.dropLast(4)) : e.name
            if map[key] != nil { throw FileError(path, "duplicate entry '\(e.name)'") }
            map[key] = e
            keys.append(key)
        }
        entries = map
        self.keys = keys
    }

    /// The array stored under `key` (`Xtrain` reads entry `Xtrain.npy`).
    public func array(_ key: String) throws -> NPYArray {
        guard let entry = entries[key] else {
            throw FileError(path, "missing key '\(key)' (archive has: \(keys.joined(separator: ", ")))")
        }
        let content = try archive.data(of: entry)
        do {
            return try NPYReader.parse(content, file: path)
        } catch let e as FileError {
            throw FileError(path, "zip entry \(entry.name): \(e.problem)")
        }
    }
}
