import GraphIR

/// One named graph-to-graph rewrite or check. Passes never mutate their input graph: they
/// return a new one (or the same one when nothing changes), so a pipeline can keep snapshots.
public struct Pass: Sendable {
    public let name: String
    public let summary: String
    public let run: @Sendable (Graph) throws -> Graph

    public init(name: String, summary: String, run: @escaping @Sendable (Graph) throws -> Graph) {
        self.name = name; self.summary = summary; self.run = run
    }
}

/// A pass's complaint about a graph when there is no source location to point at (nodes made
/// by other passes, graph-level problems, unknown pass names).
public struct PassError: Error, CustomStringConvertible {
    public let pass: String
    public let message: String
    public init(pass: String, _ message: String) { self.pass = pass; self.message = message }
    public var description: String { "\(pass): \(message)" }
}

/// The error for a problem at one node: a located `Diagnostic` when the node knows where it
/// came from, else a `PassError` naming the node by its value.
func nodeError(_ pass: String, _ g: Graph, _ v: Value, _ message: String) -> Error {
    let node = g.nodes[v.id]
    let text = "\(pass): \(node.op.name) \(v): \(message)"
    if let loc = node.location { return Diagnostic(text, at: loc) }
    return PassError(pass: pass, "\(node.op.name) \(v)\(node.scope.isEmpty ? "" : " in scope \"\(node.scope)\""): \(message)")
}

/// Runs named passes in order.
public struct Pipeline {
    public let passes: [Pass]

    /// Throws a `PassError` listing the known passes when a name is unknown.
    public init(_ names: [String]) throws {
        var passes: [Pass] = []
        for n in names {
            guard let p = PassRegistry.named(n) else {
                let known = PassRegistry.all.map(\.name).joined(separator: ", ")
                throw PassError(pass: "pipeline", "unknown pass '\(n)' (known passes: \(known))")
            }
            passes.append(p)
        }
        self.passes = passes
    }

    /// Runs every pass; `after` sees each pass, its result and its wall time (`--time-passes`).
    public func run(_ g: Graph, after: ((Pass, Graph, Duration) -> Void)? = nil) throws -> Graph {
        var current = g
        let clock = ContinuousClock()
        for p in passes {
            let start = clock.now
            current = try p.run(current)
            after?(p, current, clock.now - start)
        }
        return current
    }
}

public enum Pipelines {
    /// What `graphc` runs before executing a model.
    public static let `default` = ["verify", "shape-inference", "constant-folding", "cse", "dce", "verify"]
}
