import GraphIR

/// One named graph-to-graph rewrite or check. Passes never mutate their input graph: they
/// return a new one (or the same one when nothing changes), so a pipeline can keep snapshots
/// and the context's cached analyses of a graph stay true for as long as the graph lives.
public struct Pass: Sendable {
    public let name: String
    public let summary: String
    let body: @Sendable (Graph, PassContext) throws -> Graph

    public init(name: String, summary: String, run body: @escaping @Sendable (Graph, PassContext) throws -> Graph) {
        self.name = name; self.summary = summary; self.body = body
    }

    /// Runs the pass alone: its statistics go to `context` under its name.
    public func run(_ g: Graph, _ context: PassContext = PassContext()) throws -> Graph {
        context.begin(self, g)
        let out = try body(g, context)
        context.end(out)
        return out
    }
}

/// Runs passes in order.
public struct Pipeline {
    /// What the pipeline is for (`compile`, `training`, ...), or `custom` for a list of names.
    public let name: String
    public let passes: [Pass]

    public init(name: String, passes: [Pass]) { self.name = name; self.passes = passes }

    public init(_ passes: [Pass]) { self.init(name: "custom", passes: passes) }

    /// Looks the passes up by name; throws a `PassError` listing the known passes when a
    /// name is unknown.
    public init(_ names: [String], name: String = "custom") throws {
        var passes: [Pass] = []
        for n in names {
            guard let p = PassRegistry.named(n) else {
                let known = PassRegistry.all.map(\.name).joined(separator: ", ")
                throw PassError(pass: "pipeline", "unknown pass '\(n)' (known passes: \(known))")
            }
            passes.append(p)
        }
        self.init(name: name, passes: passes)
    }

    public var names: [String] { passes.map(\.name) }

    /// Runs every pass; with `context.options.verifyEach`, verifies each result (as MLIR's
    /// `-verify-each` does), so a pass that breaks the graph is named at once. `after` sees
    /// each pass, its result and its wall time (`--dump-ir --after`, `--time-passes`).
    public func run(_ g: Graph, _ context: PassContext, after: ((Pass, Graph, Duration) -> Void)? = nil) throws -> Graph {
        var current = g
        let clock = ContinuousClock()
        for p in passes {
            let start = clock.now
            current = try p.run(current, context)
            let time = clock.now - start
            context.recordTime(time)
            if context.options.verifyEach && p.name != Pass.verify.name {
                do { try Verifier.check(current) } catch { throw Pipeline.brokenBy(p, error) }
            }
            after?(p, current, time)
        }
        return current
    }

    /// The verifier's error, saying which pass left the graph broken.
    static func brokenBy(_ p: Pass, _ error: Error) -> Error {
        let note = "after pass '\(p.name)' (--verify-each)"
        if var d = error as? Diagnostic {
            d.notes.append(note)
            return d
        }
        if let e = error as? PassError { return PassError(pass: e.pass, "\(e.message), \(note)") }
        return PassError(pass: "verify", "\(error), \(note)")
    }
}
