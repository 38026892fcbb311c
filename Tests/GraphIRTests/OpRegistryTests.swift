import XCTest
@testable import GraphIR

final class OpRegistryTests: XCTestCase {
    func testNamesAreUniqueAndResolve() {
        XCTAssertEqual(Set(OpRegistry.all.map(\.name)).count, OpRegistry.all.count)
        for op in OpRegistry.all { XCTAssertEqual(OpRegistry.named(op.name)?.name, op.name) }
        XCTAssertNil(OpRegistry.named("no_such_op"))
    }

    func testBuilderRunsShapeRulesAndReportsMismatches() throws {
        let b = GraphBuilder(name: "t")
        let x = b.input("x", .f32(Shape([.symbol("B"), .known(1152)])))
        let w = b.parameter("fc.weight", .f32([600, 1000]), initializer: ["init": .string("zeros")])
        XCTAssertThrowsError(try b.emit(.matmul, [x, w], ["transpose_b": .bool(true)])) { e in
            let msg = String(describing: e)
            XCTAssertTrue(msg.contains("matmul"), msg)
            XCTAssertTrue(msg.contains("f32[B,1152]"), msg)
            XCTAssertTrue(msg.contains("f32[600,1000]"), msg)
        }
        let w2 = b.parameter("fc2.weight", .f32([600, 1152]), initializer: ["init": .string("zeros")])
        let y = try b.emit(.matmul, [x, w2], ["transpose_b": .bool(true)])
        XCTAssertEqual(b.type(of: y).description, "f32[B,600]")
        let r = try b.emit(.reshape, [y], ["shape": .shape(Shape([.symbol("B"), .known(-1), .known(2)]))])
        XCTAssertEqual(b.type(of: r).description, "f32[B,300,2]")
    }

    func testBroadcastRules() throws {
        let B = Dim.symbol("B")
        XCTAssertEqual(try broadcastShapes(Shape([B, .known(256), .known(100)]), Shape([B, .known(1), .known(100)])),
                       Shape([B, .known(256), .known(100)]))
        XCTAssertEqual(try broadcastShapes(Shape([B, .known(10)]), Shape([.known(10)])), Shape([B, .known(10)]))
        XCTAssertThrowsError(try broadcastShapes(Shape([B, .known(3)]), Shape([.known(4)])))
    }

    func testDiagnosticRendersCaretUnderColumn() {
        let src = "let a = 1\nlet b = Linear(in: 1000)\n"
        let d = Diagnostic("bad thing", at: SourceLocation(file: "m.swiftgraph", line: 2, column: 9), source: src)
        XCTAssertEqual(d.render(), "m.swiftgraph:2:9: error: bad thing\nlet b = Linear(in: 1000)\n        ^")
    }
}
