import GraphIR
import XCTest
@testable import Frontend

/// Programs that recurse at compile time must stop with a diagnostic, never overflow the stack.
final class StackTests: XCTestCase {
    func testRecursionThroughNestedExpressions() {
        for nest in [10, 16, 22] {
            let body = String(repeating: "max(0, 1 + (", count: nest) + "f(n + 1)" + String(repeating: "))", count: nest)
            let source = "func f(_ n: Int) -> Int {\n    return \(body)\n}\nlet y = f(0)\n"
            guard let d = expectDiagnostic(source) else { return }
            XCTAssertTrue(d.message.contains("nested"), d.message)
        }
    }

    func testSelfCallingModule() {
        let source = """
        let x = input("x", [batch, 3])
        let m = Module { v in relu(m(relu(relu(relu(v))))) }
        output("y", m(x))
        """
        guard let d = expectDiagnostic(source) else { return }
        XCTAssertTrue(d.message.contains("nested"), d.message)
        XCTAssertEqual(d.location.line, 2)
    }

    func testSelfBuildingModuleFunction() {
        let source = """
        func Block(_ n: Int) -> Module {
            let inner = Block(n + 1)
            return Module { x in inner(x) }
        }
        let b = Block(0)
        """
        guard let d = expectDiagnostic(source) else { return }
        XCTAssertTrue(d.message.contains("calls are nested more than 64 deep"), d.message)
        XCTAssertEqual(d.location.line, 2)
        XCTAssertEqual(d.location.column, 17)
    }
}
