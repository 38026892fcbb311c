import GraphIR

/// The parameter table of a model, as PyTorch counts it: `total` is every parameter element
/// (trainable or frozen); buffers (`buffer=true`, e.g. BatchNorm running statistics) are
/// counted apart and are not parameters.
public struct ParameterReport {
    public var rows: [(name: String, shape: Shape, count: Int, trainable: Bool, buffer: Bool)]
    public var total: Int
    public var trainable: Int
    public var nonTrainable: Int
    public var buffers: Int
}

public enum ParameterCount {
    /// One row per `param` node in graph order. A parameter with a symbolic dimension has no
    /// fixed size and counts 0 (the frontend never makes one); so does one beyond
    /// `Shape.maxElementCount`, which `verify` rejects, so that counting never overflows.
    public static func report(_ g: Graph) -> ParameterReport {
        var rep = ParameterReport(rows: [], total: 0, trainable: 0, nonTrainable: 0, buffers: 0)
        for node in g.nodes where node.op == .param {
            let count = node.type.shape.isWithinElementLimit ? (node.type.shape.knownCount ?? 0) : 0
            let buffer = node.attributes[.buffer] ?? false
            let trainable = !buffer && (node.attributes[.trainable] ?? true)
            rep.rows.append((node.name ?? "", node.type.shape, count, trainable, buffer))
            if buffer {
                rep.buffers += count
            } else {
                rep.total += count
                if trainable { rep.trainable += count } else { rep.nonTrainable += count }
            }
        }
        return rep
    }
}

/// `count-params`: an analysis; the graph is unchanged except for two metadata entries.
///
///     %0 = param() {name="fc.weight", init="zeros"} : f32[10,4]
///     %1 = param() {name="fc.bias", init="zeros", trainable=false} : f32[10]
/// gets
///     meta {param_count=50, trainable_params=40}
extension Pass {
    public static let countParameters = Pass(name: "count-params", summary: "record param_count and trainable_params in the graph's metadata") { g, _ in
        let rep = ParameterCount.report(g)
        let out = GraphBuilder(copying: g)
        out.metadata["param_count"] = .int(rep.total)
        out.metadata["trainable_params"] = .int(rep.trainable)
        return out.finish()
    }
}
