import Foundation
import GraphIR

/// Metrics and run summaries as JSON: keys sorted so files diff cleanly between runs,
/// written atomically. Non-finite numbers (a diverged loss) are written as the strings "NaN",
/// "Infinity" and "-Infinity" rather than failing the whole report.
public enum JSONReport {
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        var data = try encoder.encode(value)
        data.append(0x0A)
        return data
    }

    public static func write<T: Encodable>(_ value: T, to path: String) throws {
        do {
            try AtomicFile.write(try encode(value), to: URL(fileURLWithPath: path))
        } catch {
            throw FileError(path, "cannot write JSON: \(error.localizedDescription)")
        }
    }
}
