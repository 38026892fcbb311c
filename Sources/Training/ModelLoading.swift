import Foundation
import Frontend
import GraphIR
import Passes

/// Reads a model from a .swiftgraph (DSL) or .gir (IR text) file, as mlir-opt reads either.
public enum ModelLoading {
    public static func isIR(_ path: String) -> Bool { path.hasSuffix(".gir") }

    public static func load(_ path: String, options: FrontendOptions = FrontendOptions()) throws -> Graph {
        if isIR(path) {
            // The parser checks each node as it reads it; verify adds the whole-graph rules
            // (unique names, outputs, a scalar loss) that every command relies on.
            let g = try IRParser.parse(try readText(path), file: path)
            try Verifier.check(g)
            return g
        }
        return try Frontend.lower(path: path, options: options)
    }

    public static func readText(_ path: String) throws -> String {
        let location = SourceLocation(file: path, line: 1, column: 1)
        if let problem = InputFile.problem(path, maxBytes: InputFile.maxModelBytes) {
            throw Diagnostic("cannot read the model file: it \(problem)", at: location)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Diagnostic("cannot read the file (missing, unreadable or a directory)", at: location)
        }
        guard let text = String(data: data, encoding: .utf8) else { throw Diagnostic("the file is not UTF-8 text", at: location) }
        return text
    }
}
