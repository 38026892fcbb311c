import GraphIR

/// The i64 operands that index into something, as their ops declare them
/// (`OpSpec.indexOperand`): embedding ids into a table's rows, NLL targets into the classes. Checked right before their node runs, because a kernel cannot report an
/// error and an id outside its table would read or write out of bounds.
struct IndexCheck {
    let node: Int
    let ids: Value
    /// Indices must lie in 0..<shape(of: limitValue)[limitAxis].
    let limitValue: Value
    let limitAxis: Int
    let ignore: Int64?
    let message: (_ id: Int64, _ position: [Int], _ limit: Int) -> String

    /// One check per node whose op declares an index operand (`OpSpec.indexOperand`).
    static func checks(for graph: Graph) -> [Int: IndexCheck] {
        var out: [Int: IndexCheck] = [:]
        for (i, node) in graph.nodes.enumerated() {
            guard let operand = node.op.indexOperand, operand.ids < node.inputs.count, operand.limit < node.inputs.count else { continue }
            let where_ = "\(node.op.name) %\(i)" + (node.location.map { " at \($0)" } ?? "")
            let ids = node.inputs[operand.ids], limit = node.inputs[operand.limit]
            let rank = graph.type(of: limit).rank
            let declaredAxis = operand.axisAttribute.flatMap { node.attributes[$0] } ?? operand.axis
            let axis = max(declaredAxis < 0 ? declaredAxis + rank : declaredAxis, 0)
            let idsName = describe(ids, in: graph)
            switch operand.meaning {
            case .row:
                let tableName = describe(limit, in: graph)
                out[i] = IndexCheck(node: i, ids: ids, limitValue: limit, limitAxis: axis, ignore: nil) { id, pos, rows in
                    "\(where_): \(idsName) holds id \(id) at \(pos), outside \(tableName) of \(rows) rows (valid ids are 0..<\(rows))"
                }
            case .position:
                let tableName = describe(limit, in: graph)
                out[i] = IndexCheck(node: i, ids: ids, limitValue: limit, limitAxis: axis, ignore: nil) { id, pos, size in
                    "\(where_): \(idsName) holds index \(id) at \(pos), outside axis \(axis) of \(tableName) "
                        + "(size \(size); valid indices are 0..<\(size))"
                }
            case .classLabel:
                let ignore = operand.ignore.flatMap { node.attributes[$0] }.map(Int64.init)
                out[i] = IndexCheck(node: i, ids: ids, limitValue: limit, limitAxis: axis, ignore: ignore) { t, pos, classes in
                    "\(where_): \(idsName) holds class \(t) at \(pos), but the log-probabilities have \(classes) classes "
                        + "(valid classes are 0..<\(classes)" + (ignore.map { ", or \($0) to ignore" } ?? "") + ")"
                }
            }
        }
        return out
    }

    /// Throws on the first index outside its range.
    func run(ids view: TensorView, limit: Int) throws {
        let p = view.i64
        let bound = Int64(limit)
        for k in 0..<view.count {
            let t = p[k]
            if t >= 0 && t < bound { continue }
            if let ig = ignore, t == ig { continue }
            throw RuntimeError(message(t, IndexCheck.position(k, in: view.shape), limit))
        }
    }

    static func position(_ flat: Int, in shape: [Int]) -> [Int] {
        var rest = flat
        var pos = [Int](repeating: 0, count: shape.count)
        for i in stride(from: shape.count - 1, through: 0, by: -1) where shape[i] > 0 {
            pos[i] = rest % shape[i]; rest /= shape[i]
        }
        return pos
    }

    /// "input 'captions'", "parameter 'embed.weight'", or "%7 (select of input 'captions')"
    /// for a value derived from an input by data movement.
    static func describe(_ v: Value, in graph: Graph) -> String {
        let node = graph[v]
        switch node.op {
        case .input: return "input '\(node.name ?? "?")'"
        case .param: return "parameter '\(node.name ?? "?")'"
        default:
            let movement: Set<OpDef> = [.reshape, .reshapeLike, .transpose, .slice, .select, .concat, .stack]
            var cur = v
            while movement.contains(graph[cur].op), let first = graph[cur].inputs.first { cur = first }
            let source = graph[cur].op
            let origin = cur != v && (source == .input || source == .param) ? " of \(describe(cur, in: graph))" : ""
            return "%\(v.id) (\(node.op.name)\(origin))"
        }
    }
}
