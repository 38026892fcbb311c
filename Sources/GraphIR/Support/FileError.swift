import Foundation

/// A problem with one file: a data set, a checkpoint, an image, a report being written.
/// Every module that reads or writes files reports through this one type, so messages read
/// alike everywhere: the path as the user gave it, then what is wrong with it.
public struct FileError: Error, CustomStringConvertible, Equatable {
    public var file: String
    public var problem: String

    public init(_ file: String, _ problem: String) {
        self.file = file
        self.problem = problem
    }

    public var description: String { "\(file): \(problem)" }
}

extension FileError: LocalizedError {
    public var errorDescription: String? { description }
}
