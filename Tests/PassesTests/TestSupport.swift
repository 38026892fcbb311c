import GraphIR
import Passes
import XCTest

func parseIR(_ text: String, types: IRParser.TypeChecking = .inferAndCheck) throws -> Graph {
    try IRParser.parse(text, file: "test.gir", types: types)
}

/// Parses `ir`, runs the named passes and prints the result.
func runPasses(_ ir: String, _ names: [String], types: IRParser.TypeChecking = .inferAndCheck) throws -> String {
    IRPrinter.print(try Pipeline(names).run(try parseIR(ir, types: types), .checked))
}

extension PassContext {
    /// What tests compile with: every pass's result is verified (`--verify-each`).
    static var checked: PassContext { checked() }

    static func checked(fusion: Bool = true) -> PassContext { PassContext(options: PassOptions(verifyEach: true, fusion: fusion)) }
}

/// The message of the error `body` throws, or a failure when it does not throw.
func errorMessage(_ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) -> String {
    do {
        try body()
        XCTFail("expected an error", file: file, line: line)
        return ""
    } catch {
        return String(describing: error)
    }
}

func assertContains(_ text: String, _ parts: [String], file: StaticString = #filePath, line: UInt = #line) {
    for p in parts where !text.contains(p) {
        XCTFail("expected \"\(p)\" in:\n\(text)", file: file, line: line)
    }
}
