import Foundation

/// The text `graphc --count-params` prints from parameter counts.
extension ParameterCount {
    /// `--count-params` for IR files, which carry no module structure: one row per parameter,
    /// then the totals.
    public static func table(_ r: ParameterReport) -> String {
        let w = max(10, r.rows.map(\.name.count).max() ?? 0) + 2
        var out = "Parameter".padding(toLength: w, withPad: " ", startingAt: 0) + "Shape".padding(toLength: 18, withPad: " ", startingAt: 0) + "Count\n"
        for row in r.rows {
            let kind = row.buffer ? " (buffer)" : (row.trainable ? "" : " (frozen)")
            out += row.name.padding(toLength: w, withPad: " ", startingAt: 0)
                + row.shape.description.padding(toLength: 18, withPad: " ", startingAt: 0) + grouped(row.count) + kind + "\n"
        }
        out += "Total params: \(grouped(r.total))"
        if r.buffers > 0 { out += "\nBuffers (not trained): \(grouped(r.buffers))" }
        return out
    }

    /// "graphs/q1_mlp.swiftgraph: 236,310 parameters, 22.9x graphs/q1_cnn.swiftgraph (10,298)".
    public static func comparison(_ totals: [(file: String, count: Int)]) -> String {
        guard let smallest = totals.min(by: { $0.count < $1.count }) else { return "" }
        var lines = ["Comparison (parameters):"]
        for t in totals {
            var line = "  \(t.file): \(grouped(t.count))"
            if t.file != smallest.file && smallest.count > 0 {
                line += String(format: " = %.1fx %@", Double(t.count) / Double(smallest.count), smallest.file)
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    public static func grouped(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return (n < 0 ? "-" : "") + out
    }
}
