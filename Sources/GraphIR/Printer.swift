/// The text form of a graph, one op per line with its result type:
///
///     graph @cnn {
///       %0 = input() {name="image"} : f32[B,1,28,28] loc("graphs/cnn.swiftgraph":2:13)
///       %4 = conv2d(%0, %2, %3) {stride=[1,1], padding=[1,1]} : f32[B,16,28,28] scope("convblock1.0") loc(...)
///       output "logProbs" = %17
///       loss = %18
///       meta {train="fashionMNIST", metric="accuracy"}
///     }
///
/// `IRParser` reads it back, and parse-then-print is the identity.
public enum IRPrinter {
    public static func print(_ g: Graph, locations: Bool = true) -> String {
        var out = "graph @\(g.name) {\n"
        out.reserveCapacity(g.nodes.count * 80)
        for (i, n) in g.nodes.enumerated() {
            out += "  %\(i) = \(n.op.name)("
            out += n.inputs.map { "%\($0.id)" }.joined(separator: ", ")
            out += ")"
            if !n.attributes.isEmpty { out += " " + attributes(n.attributes) }
            out += " : \(n.type)"
            if !n.scope.isEmpty { out += " scope(\(Attribute.quote(n.scope)))" }
            if locations, let l = n.location { out += " loc(\(Attribute.quote(l.file)):\(l.line):\(l.column))" }
            out += "\n"
        }
        for o in g.outputs { out += "  output \(Attribute.quote(o.name)) = %\(o.value.id)\n" }
        if let l = g.loss { out += "  loss = %\(l.id)\n" }
        if !g.metadata.isEmpty { out += "  meta \(attributes(g.metadata))\n" }
        out += "}\n"
        return out
    }

    public static func attributes(_ a: Attributes) -> String {
        "{" + a.map { "\($0.key)=\($0.value)" }.joined(separator: ", ") + "}"
    }
}
