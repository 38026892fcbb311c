import Foundation

import GraphIR

// Every reader in this module throws a `FileError` (which file, what is wrong with it, e.g.
// `train.json: captions_tokens[17] is not an array of strings`) instead of trapping, whatever
// bytes it is given.

/// Checks that `path` names an existing regular file (not a folder), for readers that hand the
/// path to a C library which would report either case less clearly.
func requireFile(_ path: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw FileError(path, "no such file")
    }
    if isDirectory.boolValue { throw FileError(path, "is a directory, not a file") }
}

/// Reads a whole file, turning a missing, unreadable or folder path into a `FileError`.
func readFile(_ path: String) throws -> Data {
    try requireFile(path)
    do {
        return try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw FileError(path, "cannot read: \(error.localizedDescription)")
    }
}
