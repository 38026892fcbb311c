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
        // A message may quote what it found (an unexpected NUL): escaped as the line is.
        let text = message.map { $0 == "\n" ? "\n" : Diagnostic.escaped($0) }.joined()
        // Line 0 locates a node of a file without lines (an ONNX node: `model.onnx: node "x" (Conv)`).
        var out = location.line == 0 ? "error: \(location.file): \(text)" : "\(location.file):\(location.line):\(location.column): error: \(text)"
        if let text = sourceLine {
            let shown = Diagnostic.shown(text, column: location.column)
            out += "\n" + shown.text + "\n" + shown.caretIndent + "^"
        }
        for n in notes { out += "\nnote: " + n }
        return out
    }

    /// The most characters of a source line a diagnostic shows: a one-line file of megabytes
    /// would otherwise be printed whole.
    public static let maxShownCharacters = 200

    /// `line` as a diagnostic shows it: at most `maxShownCharacters` around `column` (with
    /// "..." where it is cut), control characters other than tab escaped as `\u{0}` (a raw NUL
    /// or escape sequence would garble the terminal), and the indent that puts a caret under
    /// `column` (tabs kept, so it lines up in a terminal).
    public static func shown(_ line: String, column: Int) -> (text: String, caretIndent: String) {
        let count = line.count
        let caret = min(max(0, column - 1), count)
        var first = 0
        if count > maxShownCharacters { first = max(0, min(caret - maxShownCharacters / 2, count - maxShownCharacters)) }
        let last = min(count, first + maxShownCharacters)
        let lo = line.index(line.startIndex, offsetBy: first)
        let hi = line.index(lo, offsetBy: last - first)
        let mid = line.index(lo, offsetBy: caret - first)
        var text = first > 0 ? "..." : ""
        var indent = first > 0 ? "   " : ""
        for ch in line[lo..<hi] { text += escaped(ch) }
        for ch in line[lo..<mid] { indent += ch == "\t" ? "\t" : String(repeating: " ", count: escaped(ch).count) }
        if last < count { text += "..." }
        return (text, indent)
    }

    private static func escaped(_ ch: Character) -> String {
        guard ch != "\t", ch.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { return String(ch) }
        return ch.unicodeScalars.map { "\\u{\(String($0.value, radix: 16, uppercase: true))}" }.joined()
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
