import Foundation
import ONNX

extension ConformanceCase {
    /// The outcome with the case's folder left out of its message (the data's location varies).
    func shown(_ o: Outcome) -> Outcome {
        guard case .fail(let why) = o else { return o }
        return .fail(why.replacingOccurrences(of: folder + "/", with: ""))
    }
}

/// The runner's results as lines, a table by op and the Markdown page docs/onnx-support.md.
struct ConformanceReport {
    let results: [(ConformanceCase, Outcome)]
    let seconds: Double

    static func line(_ c: ConformanceCase, _ o: Outcome) -> String {
        let what = "\(c.suite)/\(c.name) [\(c.op)]"
        switch c.shown(o) {
        case .pass(let e): return "pass           \(what): max abs error \(String(format: "%.3g", e))"
        case .passWithConstantInputs(let e): return "pass           \(what): max abs error \(String(format: "%.3g", e)) (integer inputs given as constants)"
        case .fail(let why): return "fail           \(what): \(why)"
        case .notSupported(let ops): return "not supported  \(what): \(ops)"
        }
    }

    struct Row { var op = "", cases = 0, pass = 0, fail = 0, unsupported = 0 }

    /// Node tests by the op they test; the other suites by suite.
    var rows: [Row] {
        var byKey: [String: Row] = [:]
        for (c, o) in results {
            let key = c.suite == "node" ? c.op : c.suite
            var r = byKey[key] ?? Row(op: key)
            r.cases += 1
            switch o {
            case .pass, .passWithConstantInputs: r.pass += 1
            case .fail: r.fail += 1
            case .notSupported: r.unsupported += 1
            }
            byKey[key] = r
        }
        return byKey.values.sorted { $0.op < $1.op }
    }

    /// Whether graphc lists the op as one it imports.
    static func supported(_ op: String) -> Bool { ONNXOps.byType[op] != nil }

    var nodeSupported: (cases: Int, pass: Int) {
        // A case of a supported op whose model also needs an op graphc lacks (an expanded
        // function's CastLike, say) does not count.
        let node = results.filter { c, o in
            if case .notSupported = o { return false }
            return c.suite == "node" && Self.supported(c.op)
        }
        return (node.count, node.filter { $0.1.word == "pass" }.count)
    }

    var light: (cases: Int, pass: Int) {
        let l = results.filter { $0.0.suite == "light" }
        return (l.count, l.filter { $0.1.word == "pass" }.count)
    }

    /// Every light model matches, and 95% of the node tests of supported ops pass.
    var goalsMet: Bool {
        let n = nodeSupported
        return light.pass == light.cases && (n.cases == 0 || Double(n.pass) >= 0.95 * Double(n.cases))
    }

    var summaryTable: String {
        let width = max(8, rows.map(\.op.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: n, withPad: " ", startingAt: 0) }
        var out = pad("op", width) + "  cases   pass   fail   not supported\n"
        for r in rows {
            out += pad(r.op, width) + String(format: "  %5d  %5d  %5d  %5d\n", r.cases, r.pass, r.fail, r.unsupported)
        }
        return out
    }

    var totals: String { totals(withTime: true) }

    func totals(withTime: Bool) -> String {
        let n = nodeSupported, count = results.count
        let pass = results.filter { $0.1.word == "pass" }.count
        let unsupported = results.filter { if case .notSupported = $0.1 { return true }; return false }.count
        let share = n.cases == 0 ? 0 : 100 * Double(n.pass) / Double(n.cases)
        return "\(pass) passed, \(count - pass - unsupported) failed, \(unsupported) not supported (\(count) cases\(withTime ? String(format: ", %.0f s", seconds) : ""))\n"
            + "node tests of supported ops: \(n.pass) of \(n.cases) pass (\(String(format: "%.1f", share))%, goal 95%); light models: \(light.pass) of \(light.cases) match"
    }

    var markdown: String {
        var md = """
        # ONNX support

        What graphc's ONNX importer runs of the ONNX backend tests (onnx 1.23.2): the node tests, the
        `pytorch-converted` and `pytorch-operator` models and the `light` model zoo, each against its
        reference outputs (|got - expected| <= atol + rtol |expected|, onnx's tolerances). graphc compiles
        static graphs, so a node test whose import needs an integer input's value (axes, a shape, a
        ratio) is run again with that input given as the constant its data set holds, and counts as a
        pass when that run matches. Made by
        `scripts/onnx-conformance.sh` (the runner `onnx-conformance` writes this page); do not edit by hand.

        \(totals(withTime: false).split(separator: "\n").map { "- " + $0 }.joined(separator: "\n"))

        ## By op

        Node tests by the op they test (a supported op is one graphc's importer lists in `ONNXOps.all`;
        the 95% goal counts the cases of supported ops whose models use only supported ops, which
        leaves out expanded functions built from ops graphc lacks); the model suites by suite.

        | op | supported | cases | pass | fail | not supported |
        |---|---|---|---|---|---|

        """
        for r in rows {
            let supported = ["light", "pytorch-converted", "pytorch-operator"].contains(r.op) ? "" : (Self.supported(r.op) ? "yes" : "no")
            md += "| \(r.op) | \(supported) | \(r.cases) | \(r.pass) | \(r.fail) | \(r.unsupported) |\n"
        }
        md += "\n## Light models\n\n| model | result |\n|---|---|\n"
        for (c, o) in results where c.suite == "light" {
            md += "| \(c.name) | \(Self.cell(o)) |\n"
        }
        md += "\n## Every failure\n\nEach failing case with what the runner reported.\n\n| case | op | why |\n|---|---|---|\n"
        for (c, o) in results {
            if case .fail(let why) = c.shown(o) { md += "| \(c.suite)/\(c.name) | \(c.op) | \(Self.escaped(why)) |\n" }
        }
        md += "\n## Not supported\n\nCases that use an op graphc does not import (or a data type it does not hold), by what is missing.\n\n| missing | cases |\n|---|---|\n"
        var missing: [String: Int] = [:]
        for (_, o) in results { if case .notSupported(let m) = o { missing[m, default: 0] += 1 } }
        for (m, n) in missing.sorted(by: { $0.key < $1.key }) { md += "| \(Self.escaped(m)) | \(n) |\n" }
        return md
    }

    static func cell(_ o: Outcome) -> String {
        switch o {
        case .pass(let e), .passWithConstantInputs(let e): return "pass (max abs error \(String(format: "%.3g", e)))"
        case .fail(let why): return "fail: " + escaped(why)
        case .notSupported(let m): return "not supported: " + escaped(m)
        }
    }

    static func escaped(_ s: String) -> String {
        String(s.prefix(300)).replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
