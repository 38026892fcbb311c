import GraphIR
import XCTest
@testable import Frontend

/// Inputs that are well-formed but huge end in located errors, not in a stack overflow
/// (freeing a very deep expression tree) or unbounded memory.
final class InputSizeLimitTests: XCTestCase {
    func diagnostic(_ source: String) -> Diagnostic? {
        do {
            _ = try Frontend.lower(source: source, file: "big.swiftgraph")
            return nil
        } catch {
            return error as? Diagnostic
        }
    }

    func testLongOperatorChainIsRejected() throws {
        let d = try XCTUnwrap(diagnostic("let a = 1" + String(repeating: "+1", count: 100_000) + "\n"))
        XCTAssertTrue(d.message.contains("statement is too long"), d.message)
        XCTAssertEqual(d.location.line, 1)
    }

    func testLongPostfixChainIsRejected() throws {
        let src = "let x = input(\"x\", [batch, 4])\nlet y = x" + String(repeating: ".flatten()", count: 30_000) + "\n"
        let d = try XCTUnwrap(diagnostic(src))
        XCTAssertTrue(d.message.contains("statement is too long"), d.message)
        XCTAssertEqual(d.location.line, 2)
    }

    func testChainsOfOrdinaryLengthStillWork() throws {
        let src = "let n = 1" + String(repeating: " + 1", count: 300) + "\nlet x = input(\"x\", [batch, n])\noutput(\"y\", x" + String(repeating: ".flatten()", count: 50) + ")\n"
        XCTAssertNil(diagnostic(src))
    }

    func testStringDoublingIsBounded() throws {
        let d = try XCTUnwrap(diagnostic("let s = \"a\"\nvar t = s\nfor i in 0..<64 { t = t + t }\n"))
        XCTAssertTrue(d.message.contains("string is too long"), d.message)
        XCTAssertEqual(d.location.line, 3)
    }
}
