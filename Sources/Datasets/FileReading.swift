import Foundation

import GraphIR

// Every reader in this module throws a `FileError` (which file, what is wrong with it, e.g.
// `train.json: captions_tokens[17] is not an array of strings`) instead of trapping, whatever
// bytes it is given.

/// Checks that `path` names an existing regular file (not a folder, FIFO or device), for
/// readers that hand the path to a C library which would report these cases less clearly
/// (or block on a FIFO).
func requireFile(_ path: String) throws {
    if let problem = InputFile.problem(path) { throw FileError(path, problem) }
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
