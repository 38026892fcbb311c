import Foundation

/// A captioning data file (JSON, TIFF, HDF5, .pth) that cannot be used: which file and what is
/// wrong, e.g. `train.json: captions_tokens[17] is not an array of strings`. Readers throw this
/// instead of trapping, whatever bytes they are given.
public struct DatasetFileError: Error, CustomStringConvertible, Equatable {
    /// The path as given to the reader.
    public var file: String
    public var message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    /// Messages start with the file's last path component to stay short; `file` has the full path.
    public var description: String {
        "\((file as NSString).lastPathComponent): \(message)"
    }
}

extension DatasetFileError: LocalizedError {
    public var errorDescription: String? { description }
}

extension DatasetFileError {
    /// The bytes of `path`, with a missing or unreadable file reported as a `DatasetFileError`.
    static func contents(of path: String) throws -> Data {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DatasetFileError(file: path, message: "no such file")
        }
        if isDirectory.boolValue { throw DatasetFileError(file: path, message: "is a directory, not a file") }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw DatasetFileError(file: path, message: "cannot read: \(error.localizedDescription)")
        }
    }
}
