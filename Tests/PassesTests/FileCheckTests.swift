import XCTest

/// The FileCheck helper itself: each directive passing and failing, with the failure it reports.
final class FileCheckTests: XCTestCase {
    let text = """
    graph @g {
      %0 = input() {name="x"} : f32[4]
      %1 = relu(%0) : f32[4]
      %2 = add(%1, %1) : f32[4]
      output "y" = %2
    }
    """

    /// Two graphs, as a file of several would print.
    let twoGraphs = """
    graph @f {
      %0 = input() {name="x"} : f32[4]
      %1 = exp(%0) : f32[4]
      output "y" = %1
    }
    graph @g {
      %0 = input() {name="x"} : f32[4]
      %1 = relu(%0) : f32[4]
      output "y" = %1
    }
    """

    /// The reason `checks` fail on `input`, and the 1-based check line that failed.
    func failure(_ checks: String, on input: String? = nil, file: StaticString = #filePath, line: UInt = #line) -> (FileCheck.Failure.Reason, Int)? {
        guard let f = FileCheck.run(input ?? text, checks) else {
            XCTFail("expected the checks to fail:\n\(checks)", file: file, line: line)
            return nil
        }
        return (f.reason, f.checkLine)
    }

    func assertFails(_ checks: String, on input: String? = nil, _ reason: FileCheck.Failure.Reason, atCheckLine checkLine: Int,
                     file: StaticString = #filePath, line: UInt = #line) {
        guard let (r, l) = failure(checks, on: input, file: file, line: line) else { return }
        XCTAssertEqual(r, reason, file: file, line: line)
        XCTAssertEqual(l, checkLine, "failing check line", file: file, line: line)
    }

    func testCheckFindsInOrder() {
        XCTAssertNil(FileCheck.run(text, "CHECK: relu\nCHECK: output"))
        assertFails("CHECK: tanh", .notFound, atCheckLine: 1)
        assertFails("CHECK: output\nCHECK: relu", .notFound, atCheckLine: 2)
        // The next search starts at the end of the previous match, on the same line.
        XCTAssertNil(FileCheck.run(text, "CHECK: add(%1\nCHECK: %1)"))
        assertFails("CHECK: add(%1, %1)\nCHECK: %1)", .notFound, atCheckLine: 2)
    }

    func testCheckNext() {
        XCTAssertNil(FileCheck.run(text, "// CHECK: graph @g\n// CHECK-NEXT: %0 = input()"))
        assertFails("CHECK: graph\nCHECK-NEXT: relu", .notOnNextLine(found: 2), atCheckLine: 2)
        assertFails("CHECK: %2 = add(\nCHECK-NEXT: %1", .notOnNextLine(found: 3), atCheckLine: 2)
        assertFails("CHECK-NEXT: graph", .noPreviousMatch, atCheckLine: 1)
    }

    func testCheckSame() {
        XCTAssertNil(FileCheck.run(text, "CHECK: %1 = relu\nCHECK-SAME: : f32[4]"))
        assertFails("CHECK: relu\nCHECK-SAME: input", .notFound, atCheckLine: 2)
        assertFails("CHECK: relu\nCHECK-SAME: add", .notOnSameLine(found: 3), atCheckLine: 2)
    }

    func testCheckNotBetweenMatches() {
        XCTAssertNil(FileCheck.run(text, "CHECK: input\nCHECK-NOT: exp\nCHECK: add"))
        assertFails("CHECK: input\nCHECK-NOT: relu\nCHECK: add", .excludedFound(line: 2), atCheckLine: 2)
        // Only between the two matches: relu before input or after add is not looked at.
        XCTAssertNil(FileCheck.run(text, "CHECK: relu\nCHECK-NOT: relu\nCHECK: output"))
        assertFails("CHECK-NOT: relu\nCHECK: output", .excludedFound(line: 2), atCheckLine: 1)
        assertFails("CHECK: input\nCHECK-NOT: output", .excludedFound(line: 4), atCheckLine: 2)
        XCTAssertNil(FileCheck.run(text, "CHECK: output\nCHECK-NOT: relu"))
        // Between a match and a CHECK-SAME on the same line.
        assertFails("CHECK: %2 = \nCHECK-NOT: %1,\nCHECK-SAME: f32", .excludedFound(line: 3), atCheckLine: 2)
    }

    func testInlineRegex() {
        XCTAssertNil(FileCheck.run(text, "CHECK: %{{[0-9]+}} = relu(%{{[0-9]}})"))
        assertFails("CHECK: %{{[2-9]}} = relu", .notFound, atCheckLine: 1)
        assertFails("CHECK: %1 = {{.*}}exp", .notFound, atCheckLine: 1)
        XCTAssertNil(FileCheck.run(text, "CHECK: f32[{{4}}]"), "brackets outside {{}} are literal")
        XCTAssertNil(FileCheck.run(text, "CHECK: {{[a-z]{3}}}(%1"), "the last two closing braces end the regex")
    }

    func testCapturesAreReusedLiterally() {
        XCTAssertNil(FileCheck.run(text, """
        CHECK: %[[X:[0-9]+]] = input()
        CHECK: %[[R:[0-9]+]] = relu(%[[X]])
        CHECK-NEXT: %[[A:[0-9]+]] = add(%[[R]], %[[R]])
        CHECK: output "y" = %[[A]]
        """))
        XCTAssertNil(FileCheck.run(text, "CHECK: [[R:%[0-9]+]] = relu\nCHECK: add([[R]], [[R]])"), "LLVM's [[X:%...]] spelling")
        assertFails("CHECK: %[[X:[0-9]+]] = relu\nCHECK: output \"y\" = %[[X]]", .notFound, atCheckLine: 2)
        // A captured type holds brackets, matched as text, not as a character class.
        XCTAssertNil(FileCheck.run(text, "CHECK: relu(%0) : [[T:f32.*]]\nCHECK: add(%1, %1) : [[T]]"))
        assertFails("CHECK: relu(%0) : [[T:f32.*]]\nCHECK: add(%1, %1) : [[T]]", on: text.replacingOccurrences(of: "add(%1, %1) : f32[4]", with: "add(%1, %1) : f324"),
                    .notFound, atCheckLine: 2)
    }

    func testCaptureUsedInTheSamePattern() {
        XCTAssertNil(FileCheck.run(text, "CHECK: add(%[[Y:[0-9]+]], %[[Y]])"))
        assertFails("CHECK: add(%[[Y:[0-9]+]], %[[Y]])", on: text.replacingOccurrences(of: "add(%1, %1)", with: "add(%1, %0)"),
                    .notFound, atCheckLine: 1)
        // A redefinition replaces the value.
        XCTAssertNil(FileCheck.run(text, "CHECK: %[[V:[0-9]+]] = input\nCHECK: %[[V:[0-9]+]] = relu\nCHECK: add(%[[V]]"))
    }

    func testUndefinedVariableIsReported() {
        assertFails("CHECK: relu\nCHECK: add(%[[R]]", .undefinedVariable("R"), atCheckLine: 2)
        assertFails("CHECK-NOT: %[[R]]\nCHECK: relu", .undefinedVariable("R"), atCheckLine: 1)
    }

    func testLabelsSplitTheInputIntoBlocks() {
        XCTAssertNil(FileCheck.run(twoGraphs, """
        CHECK-LABEL: graph @f
        CHECK-NEXT: %[[X:[0-9]+]] = input()
        CHECK-NEXT: exp(%[[X]])
        CHECK-NOT: relu
        CHECK-LABEL: graph @g
        CHECK-NEXT: %[[X:[0-9]+]] = input()
        CHECK: relu(%[[X]])
        """))
        // CHECK-NEXT and CHECK-SAME follow the label's match.
        XCTAssertNil(FileCheck.run(twoGraphs, "CHECK-LABEL: graph @g\nCHECK-SAME: {\nCHECK-NEXT: input()"))
        assertFails("CHECK-LABEL: graph @g\nCHECK-NEXT: relu", on: twoGraphs, .notOnNextLine(found: 7), atCheckLine: 2)
        // relu exists, but in the next block.
        assertFails("CHECK-LABEL: graph @f\nCHECK: relu\nCHECK-LABEL: graph @g", on: twoGraphs, .notFound, atCheckLine: 2)
        // A CHECK-NOT ends at the block's end; exp is not in the second block.
        XCTAssertNil(FileCheck.run(twoGraphs, "CHECK-LABEL: graph @g\nCHECK-NOT: exp"))
        assertFails("CHECK-LABEL: graph @f\nCHECK-NOT: exp\nCHECK-LABEL: graph @g", on: twoGraphs, .excludedFound(line: 2), atCheckLine: 2)
        assertFails("CHECK-LABEL: graph @g\nCHECK-LABEL: graph @f", on: twoGraphs, .notFound, atCheckLine: 2)
        assertFails("CHECK-LABEL: graph @[[N:.]]", on: twoGraphs, .badDirective("CHECK-LABEL cannot define or use variables"), atCheckLine: 1)
    }

    func testLabelsClearLocalVariablesButNotGlobalOnes() {
        assertFails("""
        CHECK-LABEL: graph @f
        CHECK: %[[E:[0-9]+]] = exp
        CHECK-LABEL: graph @g
        CHECK: output "y" = %[[E]]
        """, on: twoGraphs, .undefinedVariable("E"), atCheckLine: 4)
        XCTAssertNil(FileCheck.run(twoGraphs, """
        CHECK-LABEL: graph @f
        CHECK: %[[$E:[0-9]+]] = exp
        CHECK-LABEL: graph @g
        CHECK: output "y" = %[[$E]]
        """))
    }

    func testMalformedChecksAreErrorsNotPasses() {
        assertFails("", .noDirectives, atCheckLine: 0)
        assertFails("no check here", .noDirectives, atCheckLine: 0)
        guard let (typo, _) = failure("CHECK: graph\nCHECK-NXT: input") else { return }
        guard case .badDirective(let why) = typo, why.contains("CHECK-NXT") else { return XCTFail("\(typo)") }
        for bad in ["CHECK:", "CHECK: {{[0-9}}", "CHECK: {{}}", "CHECK: [[X:[0-9]+", "CHECK: [[1X]]", "CHECK: [[#N]]", "CHECK: a{{b"] {
            guard let (reason, line) = failure(bad) else { continue }
            guard case .badDirective = reason else { XCTFail("\(bad): \(reason)"); continue }
            XCTAssertEqual(line, 1, bad)
        }
    }

    func testFailureNamesTheCheckLineSubstitutedPatternAndRegion() throws {
        let f = try XCTUnwrap(FileCheck.run(text, """
        // CHECK: %[[R:[0-9]+]] = relu
        // CHECK: %[[A:[0-9]+]] = add(%[[R]], %0)
        """))
        let message = f.description
        XCTAssertTrue(message.contains("check line 2: CHECK: %[[A:[0-9]+]] = add(%[[R]], %0)"), message)
        XCTAssertTrue(message.contains("pattern after substitution: %[[A:[0-9]+]] = add(%1, %0)"), message)
        XCTAssertTrue(message.contains("error: pattern not found"), message)
        XCTAssertTrue(message.contains("searched output lines 3-6"), message)
        XCTAssertTrue(message.contains("^    3 |   %1 = relu(%0) : f32[4]"), "the previous match is marked:\n\(message)")
        XCTAssertTrue(message.contains("     4 |   %2 = add(%1, %1) : f32[4]"), message)

        let not = try XCTUnwrap(FileCheck.run(text, "CHECK: input\nCHECK-NOT: relu\nCHECK: output"))
        XCTAssertTrue(not.description.contains("excluded pattern found on output line 3"), not.description)
        XCTAssertTrue(not.description.contains(">    3 |   %1 = relu(%0) : f32[4]"), not.description)
        XCTAssertTrue(not.description.contains("searched output lines 2-5"), not.description)
    }
}
