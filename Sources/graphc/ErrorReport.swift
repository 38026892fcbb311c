import Foundation
import GraphIR

/// Prints any error to stderr the way a compiler does. Diagnostics made by passes know their
/// location but not the source text: the line is read back from the file here.
enum ErrorReport {
    static func print(_ error: Error) {
        var text: String
        if var d = error as? Diagnostic {
            if d.sourceLine == nil, let source = try? String(contentsOfFile: d.location.file, encoding: .utf8) {
                d.sourceLine = Diagnostic.line(d.location.line, of: source)
            }
            text = d.render()
        } else {
            // Every error type here describes itself (file and problem); Foundation's own
            // errors fall back to their localized text.
            let described = String(describing: error)
            text = "error: " + (described.isEmpty ? error.localizedDescription : described)
        }
        if !text.hasSuffix("\n") { text += "\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }
}
