import Foundation
import ONNX
import Runtime

// onnx-conformance CASES.tsv [--markdown OUT.md] [--threads N] [--only SUBSTRING] [--check-goals]
//
// Runs the ONNX backend test cases laid out by scripts/onnx-conformance-data.py through graphc's
// importer, compiler and runtime, in one process: one line per case (pass, fail with the max
// error or the error, not supported with the op), then a summary table by op. With --markdown
// it also writes that table and every failure (docs/onnx-support.md). With --check-goals it exits
// non-zero unless every light model matches and 95% of the node tests of supported ops pass.

var arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    let v = arguments[i + 1]
    arguments.removeSubrange(i...(i + 1))
    return v
}
let markdown = option("--markdown")
let threads = Int(option("--threads") ?? "") ?? 2
let only = option("--only")
let checkGoals = arguments.contains("--check-goals")
arguments.removeAll { $0 == "--check-goals" }
guard arguments.count == 1 else {
    FileHandle.standardError.write(Data("usage: onnx-conformance CASES.tsv [--markdown OUT.md] [--threads N] [--only SUBSTRING] [--check-goals]\n".utf8))
    exit(2)
}
setvbuf(stdout, nil, _IOLBF, 0)

do {
    var cases = try ConformanceCase.read(manifest: arguments[0])
    if let only { cases = cases.filter { $0.name.contains(only) || $0.op.contains(only) } }
    var results: [(ConformanceCase, Outcome)] = []
    let started = Date()
    for c in cases {
        let outcome = c.run(threads: threads)
        results.append((c, outcome))
        print(ConformanceReport.line(c, outcome))
    }
    let report = ConformanceReport(results: results, seconds: Date().timeIntervalSince(started))
    print("")
    print(report.summaryTable)
    print(report.totals)
    if let path = markdown {
        try report.markdown.write(toFile: path, atomically: true, encoding: .utf8)
        print("wrote \(path)")
    }
    exit(!checkGoals || report.goalsMet ? 0 : 1)
} catch {
    FileHandle.standardError.write(Data("onnx-conformance: \(error)\n".utf8))
    exit(2)
}
