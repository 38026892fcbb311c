import Foundation
import Passes
import Training
import XCTest

/// `TrainingOptions.passes` reaches the pipelines a training run compiles with, and each
/// compilation's statistics reach the reporter.
final class TrainingPassOptionsTests: XCTestCase {
    func train(_ passes: PassOptions) throws -> CollectingReporter {
        let dir = try TinyFashionMNIST.temporaryFolder(removedAfter: self)
        let data = try TinyFashionMNIST.write(in: dir, train: 4, dev: 2, test: 2)
        let log = CollectingReporter()
        // Module-qualified, as a program that also declares a `TrainingOptions` would write it.
        try Training.TrainingJob.run(file: TinyFashionMNIST.cnn, overrides: Training.RecipeOverrides(epochs: 1, batchSize: 2, threads: 1),
                                     options: Training.TrainingOptions(out: dir + "/results", passes: passes, data: data), reporter: log)
        return log
    }

    func testVerifyEachFusionAndDropoutReachThePipelines() throws {
        let log = try train(PassOptions(dropout: 0.5, verifyEach: true, fusion: false))
        XCTAssertEqual(log.compilations.map(\.label), ["training"])
        let context = try XCTUnwrap(log.compilations.first?.context)
        XCTAssertTrue(context.options.verifyEach)
        XCTAssertFalse(context.options.fusion)
        XCTAssertEqual(context.options.dropout, 0.5)
        let passes = context.statistics.map(\.pass)
        XCTAssertTrue(passes.contains("set-dropout"), "\(passes)")
        XCTAssertTrue(passes.contains("autodiff"), "\(passes)")
        XCTAssertFalse(passes.contains("fusion"), "--fusion off: \(passes)")
        XCTAssertTrue(log.resultLines.contains { $0.contains("test accuracy") }, log.resultLines.joined(separator: "\n"))
    }

    func testTheModelsDropoutAndTheDefaultPipeline() throws {
        let log = try train(PassOptions())
        let context = try XCTUnwrap(log.compilations.first?.context)
        XCTAssertFalse(context.options.verifyEach)
        XCTAssertEqual(context.options.dropout, 0.3, "the model's train(dropout: 0.3)")
        let fusion = try XCTUnwrap(context.statistics.first { $0.pass == "fusion" }, "\(context.statistics.map(\.pass))")
        XCTAssertLessThan(fusion.nodesAfter, fusion.nodesBefore, "the fusion pass merges nodes of the CNN")
    }
}
