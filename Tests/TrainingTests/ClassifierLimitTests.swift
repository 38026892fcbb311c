import Datasets
import Foundation
import Training
import XCTest

/// `--limit N` on Fashion-MNIST: the first N images of the training, dev and test splits.
final class ClassifierLimitTests: XCTestCase {
    func testLimitTakesTheFirstImagesOfEachSplit() throws {
        let dir = try TinyFashionMNIST.temporaryFolder(removedAfter: self)
        let data = try TinyFashionMNIST.write(in: dir, train: 5, dev: 4, test: 4)
        let log = CollectingReporter()
        try TrainingJob.run(file: TinyFashionMNIST.cnn, overrides: RecipeOverrides(epochs: 1, batchSize: 2, threads: 1),
                            options: TrainingOptions(out: dir + "/results", data: data, limit: 3), reporter: log)
        XCTAssertTrue(log.logLines.contains { $0.contains("on Fashion-MNIST (3 train / 3 dev / 3 test)") }, log.logLines.joined(separator: "\n"))
    }
}
