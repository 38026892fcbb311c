import Foundation

/// A data file that cannot be used: which file, and what is wrong with it. Readers throw this
/// instead of trapping, whatever bytes they are given.
public struct DataError: Error, CustomStringConvertible, Equatable {
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

/// Reads a whole file, turning a missing or unreadable file into a `DataError`.
func readFile(_ path: String) throws -> Data {
    guard FileManager.default.fileExists(atPath: path) else {
        throw DataError(path, "no such file")
    }
    do {
        return try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw DataError(path, "cannot read: \(error.localizedDescription)")
    }
}
