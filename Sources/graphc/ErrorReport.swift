import Foundation
import GraphIR
import Training

/// Prints any error to stderr the way a compiler does. Diagnostics made by passes know their
/// location but not the source text: the line is read back from the file here.
enum ErrorReport {
    /// Only the model files the command was given (`modelFiles`) are read back: a `.gir`
    /// file's `loc(...)` may name any file, and its contents are not the model's to show.
    /// `rank` ("rank 1 of 2") says which process of a data-parallel job failed.
    static func print(_ error: Error, modelFiles: [String] = [], rank: String? = nil) {
        var text: String
        // A pass's complaint about a node of a .gir file points at the .gir line, not its loc().
        var error = error
        if modelFiles.contains(where: ModelLoading.isIR), let d = error as? Diagnostic, !modelFiles.contains(d.location.file) {
            error = ModelLoading.locatedInIR(d)
        }
        if var d = error as? Diagnostic {
            if d.sourceLine == nil, modelFiles.contains(d.location.file), InputFile.problem(d.location.file, maxBytes: InputFile.maxModelBytes) == nil,
               let source = try? String(contentsOfFile: d.location.file, encoding: .utf8) {
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
        if let rank { text = "graphc \(rank): " + text }
        if !text.hasSuffix("\n") { text += "\n" }
        FileHandle.standardError.write(Data(text.utf8))
    }
}
