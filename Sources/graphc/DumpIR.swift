import Foundation
import Frontend
import GraphIR
import Passes
import Training

/// `--dump-ir`: the IR after the compile pipeline, after one named pass, or after every pass.
enum DumpIR {
    static func run(file: String, options: FrontendOptions, pipeline names: [String]?, after: String?, timePasses: Bool) throws {
        let graph = try ModelLoading.load(file, options: options)
        let pipelineNames = names ?? Compile.pipeline(for: graph)
        let pipeline = try Pipeline(pipelineNames)
        if let a = after, a != "all", !pipelineNames.contains(a) {
            throw PassError(pass: "pipeline", "--after \(a): the pipeline (\(pipelineNames.joined(separator: ", "))) has no such pass")
        }
        if after == "all" { print("// IR as lowered\n" + IRPrinter.print(graph), terminator: "") }
        let result = try pipeline.run(graph) { pass, g, time in
            if after == "all" || after == pass.name { print("\n// IR after \(pass.name)\n" + IRPrinter.print(g), terminator: "") }
            if timePasses { Compile.printTime(pass, time, g) }
        }
        if after == nil { print(IRPrinter.print(result), terminator: "") }
    }
}
