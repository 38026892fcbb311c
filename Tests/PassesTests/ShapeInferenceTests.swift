import GraphIR
import Passes
import XCTest

final class ShapeInferenceTests: XCTestCase {
    /// x [B,16] -> relu -> matmul with w [8,16]ᵀ, printed with locations.
    func printedModel() throws -> String {
        let b = GraphBuilder(name: "m")
        b.location = SourceLocation(file: "model.swiftgraph", line: 1, column: 1)
        let x = b.input("x", .f32(Shape([.symbol("B"), .known(16)])))
        let w = b.parameter("w", .f32([8, 16]), initializer: ["init": .string("zeros")])
        b.location = SourceLocation(file: "model.swiftgraph", line: 2, column: 5)
        let r = try b.emit(.relu, [x])
        b.location = SourceLocation(file: "model.swiftgraph", line: 3, column: 5)
        let y = try b.emit(.matmul, [r, w], ["transpose_b": .bool(true)])
        b.outputs = [("y", y)]
        let g = b.finish()
        return IRPrinter.print(g)
    }

    func testRetypesGraphAfterInputShapeEdit() throws {
        let edited = try printedModel().replacingOccurrences(of: "{name=\"x\"} : f32[B,16]", with: "{name=\"x\"} : f32[N,16]")
        XCTAssertNotEqual(edited, try printedModel())
        let out = try runPasses(edited, ["shape-inference", "verify"], types: .trustDeclared)
        assertFileCheck(out, """
        CHECK: %[[X:[0-9]+]] = input() {name="x"} : f32[N,16]
        CHECK: %[[W:[0-9]+]] = param() {name="w"
        CHECK: %[[R:[0-9]+]] = relu(%[[X]]) : f32[N,16] loc("model.swiftgraph":2:5)
        CHECK-NEXT: %[[Y:[0-9]+]] = matmul(%[[R]], %[[W]]) {transpose_b=true} : f32[N,8] loc("model.swiftgraph":3:5)
        CHECK-NEXT: output "y" = %[[Y]]
        CHECK-NOT: B
        """)
    }

    func testStaleTypesAreCaughtByVerifyAndStrictParsing() throws {
        let edited = try printedModel().replacingOccurrences(of: ": f32[B,16]", with: ": f32[N,16]", options: [], range: nil)
            .replacingOccurrences(of: "relu(%0) : f32[N,16]", with: "relu(%0) : f32[B,16]")
        let strict = errorMessage { _ = try parseIR(edited) }
        assertContains(strict, ["test.gir:4:19:", "declared type f32[B,16] of %2 does not match the type f32[N,16] that relu infers"])
        let g = try parseIR(edited, types: .trustDeclared)
        let verify = errorMessage { _ = try Pipeline(["verify"]).run(g, .checked) }
        assertContains(verify, ["model.swiftgraph:2:5", "relu %2", "type f32[B,16] differs from the inferred f32[N,16]"])
    }

    func testRejectsMismatchNamingOpShapesAndLocation() throws {
        let edited = try printedModel().replacingOccurrences(of: "{name=\"x\"} : f32[B,16]", with: "{name=\"x\"} : f32[B,32]")
        let g = try parseIR(edited, types: .trustDeclared)
        let message = errorMessage { _ = try Pipeline(["shape-inference"]).run(g, .checked) }
        assertContains(message, ["model.swiftgraph:3:5", "shape-inference", "matmul %3", "inner dimensions differ", "f32[B,32]", "f32[8,16]"])
    }

    func testNodeWithoutLocationIsNamedByValueAndScope() throws {
        let g = try parseIR("""
        graph @g {
          %x = input() {name="x"} : i64[4]
          %y = relu(%x) : f32[4] scope("head")
        }
        """, types: .trustDeclared)
        let message = errorMessage { _ = try Pipeline(["shape-inference"]).run(g, .checked) }
        XCTAssertEqual(message, "shape-inference: relu %1 in scope \"head\": input must be f32, got i64[4] (inputs: i64[4])")
    }

    func testRejectsResultsBeyondTheElementLimit() throws {
        let g = try parseIR("""
        graph @g {
          %a = input() {name="a"} : f32[65536,1]
          %b = input() {name="b"} : f32[1,131072]
          %c = add(%a, %b) : f32[1]
        }
        """, types: .trustDeclared)
        let message = errorMessage { _ = try Pipeline(["shape-inference"]).run(g, .checked) }
        assertContains(message, ["add %2", "f32[65536,131072] holds more than 4294967296 elements"])
    }
}
