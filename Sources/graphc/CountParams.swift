import Foundation
import Frontend
import GraphIR
import Passes
import Training

/// `--count-params`: a torchinfo-like table per model, then, for several models, how they
/// compare (Q1 asks exactly that of its CNN and MLP).
enum CountParams {
    static func run(files: [String], options: FrontendOptions) throws {
        var totals: [(file: String, count: Int)] = []
        for (i, file) in files.enumerated() {
            if i > 0 { print("") }
            if files.count > 1 { print("== \(file)") }
            let report: ParameterReport
            if ModelLoading.isIR(file) || ModelLoading.isONNX(file) {
                let g = try ModelLoading.load(file, options: options)
                report = ParameterCount.report(g)
                print(ParameterCount.table(report))
            } else {
                let (g, rows) = try Frontend.lowerWithSummary(path: file, options: options)
                report = ParameterCount.report(g)
                print(LayerSummaryRow.table(rows), terminator: "")
            }
            print("Trainable params: \(ParameterCount.grouped(report.trainable))")
            print("Non-trainable params: \(ParameterCount.grouped(report.nonTrainable))")
            totals.append((file, report.total))
        }
        if totals.count > 1 { print("\n" + ParameterCount.comparison(totals)) }
    }
}
