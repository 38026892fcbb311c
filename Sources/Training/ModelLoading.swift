import Foundation
import Frontend
import GraphIR
import Passes

/// Reads a model from a .swiftgraph (DSL), .gir (IR text) or .onnx file, as mlir-opt reads
/// either of the first two; an ONNX model is made trainable for `task` (see `ONNXTask`).
public enum ModelLoading {
    public static func isIR(_ path: String) -> Bool { path.hasSuffix(".gir") }

    public static func load(_ path: String, options: FrontendOptions = FrontendOptions(), task: ONNXTask = ONNXTask()) throws -> Graph {
        if isONNX(path) { return try loadONNX(path, options: options, task: task) }
        if isIR(path) {
            // The parser checks each node as it reads it; verify adds the whole-graph rules
            // (unique names, outputs, a scalar loss) that every command relies on.
            let (g, positions) = try IRParser.parseWithPositions(try readText(path), file: path)
            try verify(g, positions: positions)
            girLines.record(g, positions: positions)
            return g
        }
        return try Frontend.lower(path: path, options: options)
    }

    /// Verifies a graph read from a .gir file, with a complaint about a node located at the
    /// node's `.gir` line and its `loc(...)` (the DSL line it came from) as a note.
    static func verify(_ g: Graph, positions: [SourceLocation]) throws {
        guard positions.count == g.nodes.count else { return try Verifier.check(g) }
        let b = GraphBuilder(name: g.name)
        for (node, position) in zip(g.nodes, positions) {
            var n = node
            n.location = position
            b.append(n)
        }
        b.outputs = g.outputs
        b.loss = g.loss
        b.metadata = g.metadata
        do {
            try Verifier.check(b.finish())
        } catch var d as Diagnostic {
            if let i = positions.firstIndex(where: { $0.line == d.location.line }), let origin = g.nodes[i].location {
                d.notes.append("the node comes from \(origin.file):\(origin.line):\(origin.column)")
            }
            throw d
        }
    }

    /// Where the nodes of the `.gir` files loaded so far were written, by their `loc()`: the
    /// passes after the verifier locate their complaints at a node's `loc()` (the DSL line),
    /// which `locatedInIR` turns back into the `.gir` line.
    static let girLines = GirLines()

    /// `error` located at the `.gir` line of the node it names (with the DSL location as a
    /// note) when it is a diagnostic at the `loc()` of a node of a loaded `.gir` file;
    /// otherwise `error` itself.
    public static func locatedInIR(_ error: Error) -> Error {
        guard let d = error as? Diagnostic, let position = girLines.position(of: d.location) else { return error }
        return Diagnostic(d.message, at: position, notes: ["the node comes from \(d.location.file):\(d.location.line):\(d.location.column)"] + d.notes)
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

/// `loc()` -> `.gir` position of the first node written with it, for every `.gir` file loaded.
final class GirLines: @unchecked Sendable {
    private let lock = NSLock()
    private var positions: [SourceLocation: SourceLocation] = [:]

    func record(_ g: Graph, positions list: [SourceLocation]) {
        guard list.count == g.nodes.count else { return }
        lock.lock(); defer { lock.unlock() }
        for (node, position) in zip(g.nodes, list) {
            if let loc = node.location, positions[loc] == nil { positions[loc] = position }
        }
    }

    func position(of loc: SourceLocation) -> SourceLocation? {
        lock.lock(); defer { lock.unlock() }
        return positions[loc]
    }
}
