import XCTest

/// A small FileCheck, enough for IR-in, IR-out pass tests in the style of LLVM/MLIR:
/// `CHECK:` finds the pattern at or after the previous match, `CHECK-NEXT:` on the line right
/// after it, `CHECK-SAME:` later on the same line, and `CHECK-NOT:` must not occur between the
/// surrounding positive matches. Patterns are literal text in which `{{.*}}` matches anything
/// within a line. Check lines may start with `//`.
enum FileCheck {
    enum Kind: String { case check = "CHECK", next = "CHECK-NEXT", same = "CHECK-SAME", not = "CHECK-NOT" }
    struct Directive { let kind: Kind; let pattern: String; let pieces: [String] }

    static func directives(_ checks: String) -> [Directive] {
        var out: [Directive] = []
        for raw in checks.split(separator: "\n", omittingEmptySubsequences: true) {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("//") { line = String(line.dropFirst(2)).trimmingCharacters(in: .whitespaces) }
            // Longest prefix first so CHECK-NEXT is not read as CHECK.
            for kind in [Kind.next, .same, .not, .check] where line.hasPrefix(kind.rawValue + ":") {
                let pattern = String(line.dropFirst(kind.rawValue.count + 1)).trimmingCharacters(in: .whitespaces)
                out.append(Directive(kind: kind, pattern: pattern, pieces: pattern.components(separatedBy: "{{.*}}")))
                break
            }
        }
        return out
    }

    /// The first match of `pieces` in `line` starting at `from`: (start, end) offsets.
    static func match(_ pieces: [String], in line: String, from: Int) -> (Int, Int)? {
        let chars = Array(line)
        var start: Int?
        var pos = from
        for piece in pieces {
            if piece.isEmpty { if start == nil { start = pos }; continue }
            guard let at = find(Array(piece), in: chars, from: pos) else { return nil }
            if start == nil { start = at }
            pos = at + piece.count
        }
        return (start ?? pos, pos)
    }

    static func find(_ needle: [Character], in hay: [Character], from: Int) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = max(0, from)
        outer: while i + needle.count <= hay.count {
            for k in needle.indices where hay[i + k] != needle[k] { i += 1; continue outer }
            return i
        }
        return nil
    }

    /// nil when every directive holds, else what failed.
    static func run(_ output: String, _ checks: String) -> String? {
        let lines = output.components(separatedBy: "\n")
        let ds = directives(checks)
        guard !ds.isEmpty else { return "no CHECK lines" }
        var line = 0, col = 0          // where the next search starts
        var lastLine = -1              // line of the previous positive match
        var pendingNot: [Directive] = []
        /// CHECK-NOT patterns must not occur from (fromLine, fromCol) up to (toLine, toCol).
        func checkNots(fromLine: Int, fromCol: Int, toLine: Int, toCol: Int) -> String? {
            for d in pendingNot {
                var l = fromLine
                while l <= min(toLine, lines.count - 1) {
                    let c0 = l == fromLine ? fromCol : 0
                    if let (_, e) = match(d.pieces, in: lines[l], from: c0), l < toLine || e <= toCol {
                        return "CHECK-NOT: \"\(d.pattern)\" found on output line \(l + 1): \(lines[l])"
                    }
                    l += 1
                }
            }
            return nil
        }
        for d in ds {
            switch d.kind {
            case .not:
                pendingNot.append(d)
                continue
            case .check:
                var l = line, found: (Int, Int, Int)?
                while l < lines.count {
                    if let (s, e) = match(d.pieces, in: lines[l], from: l == line ? col : 0) { found = (l, s, e); break }
                    l += 1
                }
                guard let (ml, ms, me) = found else { return "CHECK: \"\(d.pattern)\" not found after output line \(line + 1)" }
                if let err = checkNots(fromLine: line, fromCol: col, toLine: ml, toCol: ms) { return err }
                line = ml; col = me; lastLine = ml
            case .next:
                let ml = lastLine + 1
                guard ml < lines.count, let (ms, me) = match(d.pieces, in: lines[ml], from: 0) else {
                    return "CHECK-NEXT: \"\(d.pattern)\" not on output line \(ml + 1): \(ml < lines.count ? lines[ml] : "<end>")"
                }
                if let err = checkNots(fromLine: line, fromCol: col, toLine: ml, toCol: ms) { return err }
                line = ml; col = me; lastLine = ml
            case .same:
                guard lastLine >= 0, let (ms, me) = match(d.pieces, in: lines[lastLine], from: col) else {
                    return "CHECK-SAME: \"\(d.pattern)\" not found later on output line \(lastLine + 1)"
                }
                if let err = checkNots(fromLine: line, fromCol: col, toLine: lastLine, toCol: ms) { return err }
                col = me
            }
            pendingNot = []
        }
        return checkNots(fromLine: line, fromCol: col, toLine: lines.count - 1, toCol: Int.max)
    }
}

func assertFileCheck(_ output: String, _ checks: String, file: StaticString = #filePath, line: UInt = #line) {
    if let failure = FileCheck.run(output, checks) {
        XCTFail("\(failure)\n--- output ---\n\(output)", file: file, line: line)
    }
}

final class FileCheckTests: XCTestCase {
    let text = """
    graph @g {
      %0 = input() {name="x"} : f32[4]
      %1 = relu(%0) : f32[4]
      output "y" = %1
    }
    """

    func testPassingChecks() {
        XCTAssertNil(FileCheck.run(text, """
        // CHECK: graph @g
        // CHECK-NEXT: %0 = input()
        // CHECK-SAME: : f32[4]
        // CHECK-NOT: exp
        // CHECK: %1 = relu({{.*}}) : f32[4]
        // CHECK-NEXT: output "y" = %1
        """))
    }

    func testFailingChecksAreReported() {
        XCTAssertNotNil(FileCheck.run(text, "CHECK: tanh"))
        XCTAssertNotNil(FileCheck.run(text, "CHECK: graph\nCHECK-NEXT: relu"), "relu is two lines down, not the next line")
        XCTAssertNotNil(FileCheck.run(text, "CHECK: relu\nCHECK-SAME: input"), "input is on an earlier line")
        XCTAssertNotNil(FileCheck.run(text, "CHECK-NOT: relu\nCHECK: output"), "relu occurs before output")
        XCTAssertNotNil(FileCheck.run(text, "CHECK: input\nCHECK-NOT: relu"), "a trailing NOT covers the rest")
        XCTAssertNotNil(FileCheck.run(text, "CHECK: output\nCHECK: relu"), "order matters")
        XCTAssertNotNil(FileCheck.run(text, "CHECK: %1 = {{.*}}exp"), "wildcards stay within a line")
        XCTAssertNotNil(FileCheck.run(text, ""), "no directives is an error, not a pass")
    }
}
