import GraphIR
@testable import Runtime
import XCTest

final class KernelDropoutTests: XCTestCase {
    func maskGraph(p: Double) throws -> Graph {
        let b = GraphBuilder(name: "dropout")
        let x = b.input("x", .f32(Shape([.symbol("B"), .known(500)])))
        b.outputs = [("mask", try b.emit(.dropoutMask, [x], ["p": .float(p)]))]
        return b.finish()
    }

    func feeds(_ rows: Int = 8) -> [String: HostTensor] { ["x": HostTensor(zeros: [rows, 500])] }

    func testTrainingMasksDropAboutPAndScaleTheRest() throws {
        let ex = try Executor(graph: try maskGraph(p: 0.3), options: ExecutionOptions(training: true, seed: 42))
        let m = try XCTUnwrap(try ex.run(feeds: feeds(), parameters: ParameterStore())["mask"]).floats
        let zeros = m.filter { $0 == 0 }.count
        XCTAssertTrue(m.allSatisfy { $0 == 0 || abs($0 - 1 / 0.7) < 1e-6 })
        // 4000 Bernoulli(0.3) draws: mean 1200, sd ≈ 29.
        XCTAssertEqual(Double(zeros), 1200, accuracy: 150)
    }

    func testSameSeedSameMasksAndMasksChangeBetweenSteps() throws {
        let g = try maskGraph(p: 0.5)
        let a = try Executor(graph: g, options: ExecutionOptions(training: true, seed: 7))
        let b = try Executor(graph: g, options: ExecutionOptions(training: true, seed: 7))
        let c = try Executor(graph: g, options: ExecutionOptions(training: true, seed: 8))
        let store = ParameterStore()
        let a1 = try a.run(feeds: feeds(), parameters: store)["mask"], a2 = try a.run(feeds: feeds(), parameters: store)["mask"]
        let b1 = try b.run(feeds: feeds(), parameters: store)["mask"], b2 = try b.run(feeds: feeds(), parameters: store)["mask"]
        let c1 = try c.run(feeds: feeds(), parameters: store)["mask"]
        XCTAssertEqual(a1, b1); XCTAssertEqual(a2, b2)
        XCTAssertNotEqual(a1, a2, "each step draws a new mask")
        XCTAssertNotEqual(a1, c1, "another seed draws another mask")
        a.reseed(7)
        XCTAssertEqual(try a.run(feeds: feeds(), parameters: store)["mask"], a1, "reseeding restarts the stream")
    }

    func testEvaluationAndZeroProbabilityGiveOnes() throws {
        let eval = try Executor(graph: try maskGraph(p: 0.5), options: ExecutionOptions(training: false, seed: 1))
        XCTAssertEqual(try eval.run(feeds: feeds(3), parameters: ParameterStore())["mask"]?.floats, [Float](repeating: 1, count: 1500))
        eval.training = true
        XCTAssertTrue(try XCTUnwrap(eval.run(feeds: feeds(3), parameters: ParameterStore())["mask"]).floats.contains(0))
        let none = try Executor(graph: try maskGraph(p: 0), options: ExecutionOptions(training: true, seed: 1))
        XCTAssertEqual(try none.run(feeds: feeds(3), parameters: ParameterStore())["mask"]?.floats, [Float](repeating: 1, count: 1500))
    }
}
