import Foundation
import GraphIR

/// Writes `.npz` archives as `numpy.savez` does (stored entries `NAME.npy`, in the order
/// given), so `numpy.load` reads them; the file appears whole or not at all.
public enum NPZWriter {
    public static func encode(_ arrays: [(name: String, array: NPYArray)], file: String = "<npz>") throws -> Data {
        var seen = Set<String>()
        var entries: [(name: String, content: Data)] = []
        for (name, array) in arrays {
            guard seen.insert(name).inserted else { throw FileError(file, "two arrays named '\(name)'") }
            entries.append((name + ".npy", try NPYWriter.encode(array)))
        }
        return try ZipWriter.storedArchive(entries, file: file)
    }

    public static func write(_ arrays: [(name: String, array: NPYArray)], to path: String) throws {
        let data = try encode(arrays, file: path)
        do {
            try AtomicFile.write(data, to: URL(fileURLWithPath: path))
        } catch {
            throw FileError(path, "cannot write: \(error.localizedDescription)")
        }
    }
}
