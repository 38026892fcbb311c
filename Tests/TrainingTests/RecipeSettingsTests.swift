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
