/// A complaint about a graph from a pass or the verifier when there is no source location to
/// point at (nodes made by other passes, graph-level problems, unknown pass names).
public struct PassError: Error, CustomStringConvertible {
    public let pass: String
    public let message: String
    public init(pass: String, _ message: String) { self.pass = pass; self.message = message }
    public var description: String { "\(pass): \(message)" }
}

/// The error for a problem at one node: a located `Diagnostic` when the node knows where it
/// came from, else a `PassError` naming the node by its value.
public func nodeError(_ pass: String, _ g: Graph, _ v: Value, _ message: String) -> Error {
    let node = g.nodes[v.id]
    let text = "\(pass): \(node.op.name) \(v): \(message)"
    if let loc = node.location { return Diagnostic(text, at: loc) }
    return PassError(pass: pass, "\(node.op.name) \(v)\(node.scope.isEmpty ? "" : " in scope \"\(node.scope)\""): \(message)")
}
