import Foundation

/// A data file that cannot be used: which file, and what is wrong with it, e.g.
/// `train.json: captions_tokens[17] is not an array of strings`. Every reader in this module
/// throws this instead of trapping, whatever bytes it is given.
public struct DataError: Error, CustomStringConvertible, Equatable {
    /// The path as given to the reader.
    public var file: String
    public var problem: String

    public init(_ file: String, _ problem: String) {
        self.file = file
        self.problem = problem
    }

    /// The file's last path component keeps messages short; the full path is in `file`.
    public var description: String {
        "\((file as NSString).lastPathComponent): \(problem)"
    }
}

extension DataError: LocalizedError {
    public var errorDescription: String? { description }
}

/// Checks that `path` names an existing regular file (not a folder), for readers that hand the
/// path to a C library which would report either case less clearly.
func requireFile(_ path: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw DataError(path, "no such file")
    }
    if isDirectory.boolValue { throw DataError(path, "is a directory, not a file") }
}

/// Reads a whole file, turning a missing, unreadable or folder path into a `DataError`.
func readFile(_ path: String) throws -> Data {
    try requireFile(path)
    do {
        return try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw DataError(path, "cannot read: \(error.localizedDescription)")
    }
}
