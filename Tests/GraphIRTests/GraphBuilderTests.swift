import GraphIR
import XCTest

/// A finished graph never changes: the builder that made it, or one copying it, builds on
/// without touching it.
final class GraphBuilderTests: XCTestCase {
    func testFinishedGraphsStayAsTheyWere() throws {
        let b = GraphBuilder(name: "g")
        let x = b.input("x", .f32([4]))
        b.outputs = [("y", try b.emit(.relu, [x]))]
        let first = b.finish()
        let text = IRPrinter.print(first)

        b.outputs.append(("z", try b.emit(.exp, [x])))
        b.loss = try b.emit(.sum, [x], ["axes": .ints([0])])
        b.metadata["note"] = .string("later")
        let second = b.finish()
        XCTAssertEqual(IRPrinter.print(first), text, "building on does not change the finished graph")
        XCTAssertEqual(second.nodes.count, 4)
        XCTAssertEqual(second.outputs.map(\.name), ["y", "z"])

        let copy = GraphBuilder(copying: second)
        XCTAssertEqual(IRPrinter.print(copy.finish()), IRPrinter.print(second))
        copy.outputs.removeAll()
        copy.loss = nil
        _ = try copy.emit(.neg, [x])
        XCTAssertEqual(second.nodes.count, 4, "a copy's builder leaves the original alone")
        XCTAssertEqual(second.outputs.count, 2)
        XCTAssertNotNil(second.loss)
        XCTAssertEqual(copy.finish().nodes.count, 5)
    }
}
