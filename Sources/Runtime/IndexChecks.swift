import GraphIR

/// The i64 operands that index into something: embedding ids into a table's rows, NLL targets
/// into the classes. Checked right before their node runs, because a kernel cannot report an
/// error and an id outside its table would read or write out of bounds.
struct IndexCheck {
    let node: Int
    let ids: Value
    /// Indices must lie in 0..<shape(of: limitValue)[limitAxis].
    let limitValue: Value
    let limitAxis: Int
    let ignore: Int64?
    let message: (_ id: Int64, _ position: [Int], _ limit: Int) -> String

    static func checks(for graph: Graph) -> [Int: IndexCheck] {
        var out: [Int: IndexCheck] = [:]
        for (i, node) in graph.nodes.enumerated() {
            let where_ = "\(node.op.name) %\(i)" + (node.location.map { " at \($0)" } ?? "")
            switch node.op {
            case .embedding, .embeddingGrad:
                guard node.inputs.count >= 2 else { continue }
                let ids = node.op == .embedding ? node.inputs[0] : node.inputs[1]
                let table = node.op == .embedding ? node.inputs[1] : (node.inputs.count > 2 ? node.inputs[2] : node.inputs[1])
                let idsName = describe(ids, in: graph), tableName = describe(table, in: graph)
                out[i] = IndexCheck(node: i, ids: ids, limitValue: table, limitAxis: 0, ignore: nil) { id, pos, rows in
                    "\(where_): \(idsName) holds id \(id) at \(pos), outside \(tableName) of \(rows) rows (valid ids are 0..<\(rows))"
                }
            case .nllLoss, .nllLossGrad:
                guard node.inputs.count >= 2 else { continue }
                let target = node.op == .nllLoss ? node.inputs[1] : (node.inputs.count > 2 ? node.inputs[2] : node.inputs[1])
                let logp = node.op == .nllLoss ? node.inputs[0] : node.inputs[1]
                let ignore = node.attributes.int("ignore_index").map(Int64.init)
                let targetName = describe(target, in: graph)
                let axis = max(graph.type(of: logp).rank - 1, 0)
                out[i] = IndexCheck(node: i, ids: target, limitValue: logp, limitAxis: axis, ignore: ignore) { t, pos, classes in
                    "\(where_): \(targetName) holds class \(t) at \(pos), but the log-probabilities have \(classes) classes "
                        + "(valid classes are 0..<\(classes)" + (ignore.map { ", or \($0) to ignore" } ?? "") + ")"
                }
            default:
                continue
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
