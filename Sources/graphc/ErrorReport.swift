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
            // graphc's error types describe themselves (file and problem); Foundation's own
            // errors read better through their localized text.
            let domain = (error as NSError).domain
            let foundation = domain == NSCocoaErrorDomain || domain == NSPOSIXErrorDomain
            text = "error: " + (foundation ? error.localizedDescription : String(describing: error))
        }
        if !text.hasSuffix("\n") { text += "\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }
}
