import Foundation
import Frontend
import GraphIR
import Passes
import Training

/// `--dump-ir`: the IR after the compile pipeline (`Pipelines.compile`) or the passes
/// `--passes` names, after one named pass, or after every pass.
enum DumpIR {
    static func run(file: String, options: FrontendOptions, pipeline names: [String]?, after: String?,
                    passOptions: PassOptions, timePasses: Bool, passStats: Bool) throws {
        let graph = try ModelLoading.load(file, options: options)
        let pipeline = try names.map { try Pipeline($0) } ?? Pipelines.compile(for: graph, passOptions)
        if let a = after, a != "all", !pipeline.names.contains(a) {
            throw PassError(pass: "pipeline", "--after \(a): the pipeline (\(pipeline.names.joined(separator: ", "))) has no such pass")
        }
        let context = PassContext(options: passOptions)
        defer { if passStats { printStatistics(context) } }
        if after == "all" { print("// IR as lowered\n" + IRPrinter.print(graph), terminator: "") }
        let result = try pipeline.run(graph, context) { pass, g, time in
            if after == "all" || after == pass.name { print("\n// IR after \(pass.name)\n" + IRPrinter.print(g), terminator: "") }
            if timePasses { printTime(pass, time, g) }
        }
        if after == nil { print(IRPrinter.print(result), terminator: "") }
    }

    static func printTime(_ pass: Pass, _ time: Duration, _ g: Graph) {
        let ms = Double(time.components.seconds) * 1000 + Double(time.components.attoseconds) / 1e15
        FileHandle.standardError.write(Data(String(format: "%-18@ %9.2f ms  %7d nodes\n", pass.name as NSString, ms, g.nodes.count).utf8))
    }

    /// `--pass-stats`: what each pass did, on stderr (stdout holds the IR).
    static func printStatistics(_ context: PassContext) {
        FileHandle.standardError.write(Data((statisticsText(context) + "\n").utf8))
    }

    /// The statistics of one compilation, headed by what was compiled when there were several.
    static func statisticsText(_ context: PassContext, label: String? = nil) -> String {
        "pass statistics\(label.map { " (\($0))" } ?? ""):\n" + context.statisticsReport
    }
}
