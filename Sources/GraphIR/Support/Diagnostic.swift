/// A user-facing error tied to a place in a source file (a .swiftgraph or .gir file). Rendered
/// the way compilers do, with the offending line and a caret under the column:
///
///     graphs/cnn.swiftgraph:12:5: error: linear: expected 1152 input features, got 1000
///         Linear(in: 1000, out: 600)
///         ^
public struct Diagnostic: Error, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    /// The full text of the line `location.line`, when known.
    public var sourceLine: String?
    /// Extra lines printed after the caret (`note: ...`).
    public var notes: [String]

    public init(_ message: String, at location: SourceLocation, sourceLine: String? = nil, notes: [String] = []) {
        self.message = message; self.location = location; self.sourceLine = sourceLine; self.notes = notes
    }

    /// Builds a diagnostic, taking the source line from the whole file text.
    public init(_ message: String, at location: SourceLocation, source: String, notes: [String] = []) {
        self.init(message, at: location, sourceLine: Diagnostic.line(location.line, of: source), notes: notes)
    }

    public var description: String { render() }

    public func render() -> String {
        var out = "\(location.file):\(location.line):\(location.column): error: \(message)"
        if let text = sourceLine {
            out += "\n" + text
            // Keep tabs so the caret lines up under the same column in a terminal.
            let prefix = text.prefix(max(0, location.column - 1)).map { $0 == "\t" ? "\t" : " " }.joined()
            out += "\n" + prefix + "^"
        }
        for n in notes { out += "\nnote: " + n }
        return out
    }

    /// Line `n` (1-based) of `source`, or nil when out of range.
    public static func line(_ n: Int, of source: String) -> String? {
        guard n >= 1 else { return nil }
        var current = 1
        var start = source.startIndex
        var i = source.startIndex
        while i < source.endIndex {
            if source[i] == "\n" {
                if current == n { return String(source[start..<i]) }
                current += 1
                start = source.index(after: i)
            }
            i = source.index(after: i)
        }
        return current == n ? String(source[start...]) : nil
    }
}
