import GraphIR
import Runtime
import Training
import XCTest

/// A recipe refuses settings outside their rules, whether from the model or from overrides.
final class RecipeSettingsTests: XCTestCase {
    func graph(_ metadata: Attributes) throws -> Graph {
        let b = GraphBuilder(name: "m")
        let x = b.input("x", .f32([2, 3]))
        b.outputs = [("y", x)]
        b.metadata = metadata
        return b.finish()
    }

    func assertRefused(_ g: Graph, _ o: RecipeOverrides = RecipeOverrides(), says text: String, line: UInt = #line) {
        XCTAssertThrowsError(try Recipe(graph: g, overrides: o), line: line) { error in
            XCTAssertTrue("\(error)".contains(text), "expected '\(text)' in: \(error)", line: line)
        }
    }

    func testModelSettingsBuiltInCodeAreCheckedToo() throws {
        assertRefused(try graph(["epochs": .int(0)]), says: "epochs must be an integer between 1 and 1000000, got 0")
        assertRefused(try graph(["batch_size": .int(-3)]), says: "batch_size must be")
        assertRefused(try graph(["metric": .string("f1")]), says: "metric must be one of")
        assertRefused(try graph(["epochs": .string("many")]), says: "epochs must be an integer")
    }

    func testOverridesAreCheckedByTheSameRules() throws {
        let g = try graph(["dataset": .string("fashionMNIST")])
        assertRefused(g, RecipeOverrides(epochs: 0), says: "--epochs must be an integer between 1 and 1000000, got 0")
        assertRefused(g, RecipeOverrides(learningRates: [-0.1]), says: "--lr must be a finite positive number, got -0.1")
        assertRefused(g, RecipeOverrides(learningRates: [0.01, 0.010]), says: "--lr gives 0.01 twice")
        assertRefused(g, RecipeOverrides(weightDecay: .infinity), says: "--l2 must be a finite non-negative number, got inf")
        assertRefused(g, RecipeOverrides(optimizer: "rmsprop"), says: "--optimizer must be one of 'sgd', 'adam'")
        assertRefused(g, RecipeOverrides(threads: 0), says: "--threads must be an integer between 1 and 256")
        XCTAssertEqual(try Recipe(graph: g, overrides: RecipeOverrides(learningRates: [0.1, 0.01])).learningRates, [0.1, 0.01])
    }
}

/// Sizes that cannot fit are refused with the numbers before memory is spent.
final class TrainingSizeTests: XCTestCase {
    func testABatchLargerThanTheTrainingSplitIsRefused() throws {
        let dir = try TinyFashionMNIST.temporaryFolder(removedAfter: self)
        let data = try TinyFashionMNIST.write(in: dir, train: 5, dev: 4, test: 4)
        XCTAssertThrowsError(try TrainingJob.run(file: TinyFashionMNIST.cnn, overrides: RecipeOverrides(epochs: 1, batchSize: 50, threads: 1),
                                                 options: TrainingOptions(out: dir + "/results", data: data), reporter: CollectingReporter())) {
            XCTAssertTrue("\($0)".contains("batch size 50 is larger than the 5 training images"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/results/metrics.json"))
    }

    func testTheExecutorsArenaIsCheckedAgainstTheMemoryBudgetBeforeAllocation() throws {
        let b = GraphBuilder(name: "m")
        let x = b.input("x", .f32(Shape([.symbol("B"), .known(1000)])))
        b.outputs = [("y", try b.emit(.relu, [x]))]
        let executor = try Executor(graph: b.finish(), options: ExecutionOptions(threads: 1))
        let saved = (MemoryBudget.bytes, MemoryBudget.source)
        defer { (MemoryBudget.bytes, MemoryBudget.source) = saved }
        MemoryBudget.bytes = 1 << 20
        MemoryBudget.source = "test budget"
        XCTAssertNoThrow(try executor.run(feeds: ["x": HostTensor(shape: [2, 1000], floats: [Float](repeating: 1, count: 2000))], parameters: ParameterStore()))
        XCTAssertThrowsError(try executor.run(feeds: ["x": HostTensor(shape: [300, 1000], floats: [Float](repeating: 1, count: 300_000))], parameters: ParameterStore())) {
            XCTAssertTrue("\($0)".contains("the plan for B=300 needs 1.2 MB (1200000 bytes) of memory, more than the budget of 1.0 MB (1048576 bytes) (test budget)"), "\($0)")
        }
    }

    func testSizesAreCountedWithoutOverflow() {
        XCTAssertNil(MemoryBudget.bytes(elements: [Int.max / 2, 4], byteSize: 4))
        XCTAssertEqual(MemoryBudget.bytes(elements: [100_000_000, 1, 28, 28], byteSize: 4), 313_600_000_000)
        XCTAssertEqual(MemoryBudget.parse("4G"), 4 << 30)
        XCTAssertEqual(MemoryBudget.parse("500m"), 500 << 20)
        XCTAssertEqual(MemoryBudget.parse("1024"), 1024)
        XCTAssertNil(MemoryBudget.parse("-1G"))
        XCTAssertNil(MemoryBudget.parse("lots"))
    }
}
