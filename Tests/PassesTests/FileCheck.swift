import Foundation
import XCTest

/// A small FileCheck for IR-in, IR-out pass tests, with LLVM FileCheck's semantics:
///
/// - `CHECK:` finds the pattern at or after the end of the previous match;
///   `CHECK-NEXT:` likewise, and the match must be on the line after the previous match;
///   `CHECK-SAME:` likewise, on the same line as the previous match;
///   `CHECK-NOT:` must not occur between the previous match and the next positive match
///   (or the end of the block when none follows).
/// - `CHECK-LABEL:` patterns are matched first, in order, and split the input into blocks:
///   the checks between two labels must match between those two labels' matches. Labels may
///   not use or define variables. Each label clears the variables, except those named `$X`
///   (LLVM's `--enable-var-scope`, as MLIR tests use it).
/// - In a pattern, text is literal except `{{regex}}`, `[[X:regex]]`, which matches the regex
///   and defines variable X as the text it matched, and `[[X]]`, which matches X's text
///   literally (a backreference when X is defined earlier in the same pattern). Regexes are
///   ICU syntax (NSRegularExpression). A match never spans lines; whitespace is matched
///   exactly.
///
/// Check lines may start with `//`; other lines of the check text are ignored, except that a
/// line starting with an unknown `CHECK` directive is an error rather than a check that
/// silently never runs. For example:
///
///     CHECK-LABEL: graph @g
///     CHECK: %[[X:[0-9]+]] = input() {name="x"}
///     CHECK-NOT: relu(
///     CHECK: %[[Y:[0-9]+]] = fused_matmul(%[[X]], {{%[0-9]+}}, {{%[0-9]+}}) {transpose_b=true, activation="relu"}
///     CHECK-NEXT: output "y" = %[[Y]]
///
/// `run` returns what failed as a value, which the helper's own tests inspect;
/// `assertFileCheck` reports it with XCTFail.
enum FileCheck {
    enum Kind: String, CaseIterable {
        case check = "CHECK", next = "CHECK-NEXT", same = "CHECK-SAME", not = "CHECK-NOT", label = "CHECK-LABEL"
    }

    enum Piece: Equatable {
        case literal(String)
        case regex(String)
        case define(name: String, regex: String)
        case use(String)

        var isVariable: Bool {
            switch self {
            case .literal, .regex: false
            case .define, .use: true
            }
        }
    }

    struct Directive {
        let kind: Kind
        let pieces: [Piece]
        /// 1-based line in the check text, and that line as written.
        let line: Int
        let text: String
    }

    /// Why a check failed, and where: what `run` returns and tests inspect.
    struct Failure: Error, CustomStringConvertible, Equatable {
        enum Reason: Error, Equatable {
            case noDirectives
            case badDirective(String)
            case notFound
            /// The first match is on `found` (0-based output line) instead of the expected line.
            case notOnNextLine(found: Int)
            case notOnSameLine(found: Int)
            case noPreviousMatch
            case excludedFound(line: Int)
            case undefinedVariable(String)
        }
        let reason: Reason
        /// 1-based line in the check text, and that line as written.
        var checkLine = 0
        var directive = ""
        /// The pattern with every use replaced by its variable's text.
        var pattern = ""
        /// The output searched, as 0-based lines (the last one included), with the lines of
        /// the previous and of the offending match.
        var searched: ClosedRange<Int>?
        var previousLine: Int?
        var lines: [String] = []

        var description: String {
            var s = checkLine > 0 ? "check line \(checkLine): \(directive)\n" : ""
            if !pattern.isEmpty { s += "  pattern after substitution: \(pattern)\n" }
            s += "  error: " + explanation + "\n"
            if let r = searched, !lines.isEmpty {
                s += "  searched output lines \(r.lowerBound + 1)-\(r.upperBound + 1):\n"
                let shown = r.lowerBound...min(r.upperBound, r.lowerBound + 59)
                for l in shown where l < lines.count {
                    let mark = l == offendingLine ? ">" : l == previousLine ? "^" : " "
                    s += "  \(mark)\(String(repeating: " ", count: max(0, 5 - String(l + 1).count)))\(l + 1) | \(lines[l])\n"
                }
                if shown.upperBound < r.upperBound { s += "  … \(r.upperBound - shown.upperBound) more lines\n" }
            }
            return s
        }

        var offendingLine: Int? {
            switch reason {
            case .notOnNextLine(let l), .notOnSameLine(let l), .excludedFound(let l): l
            default: nil
            }
        }

        var explanation: String {
            let previous = previousLine.map { "output line \($0 + 1)" } ?? "none"
            switch reason {
            case .noDirectives: return "no CHECK lines"
            case .badDirective(let why): return why
            case .notFound: return "pattern not found"
            case .notOnNextLine(let l): return "first match is on output line \(l + 1), not on the line after the previous match (\(previous))"
            case .notOnSameLine(let l): return "first match is on output line \(l + 1), not on the line of the previous match (\(previous))"
            case .noPreviousMatch: return "no previous match for it to follow"
            case .excludedFound(let l): return "excluded pattern found on output line \(l + 1)"
            case .undefinedVariable(let name): return "undefined variable \(name)"
            }
        }
    }

    /// nil when every directive holds, else the first failure.
    static func run(_ output: String, _ checks: String) -> Failure? {
        let directives: [Directive]
        switch parse(checks) {
        case .success(let ds): directives = ds
        case .failure(let f): return f
        }
        guard !directives.isEmpty else { return Failure(reason: .noDirectives) }
        return Matcher(lines: output.components(separatedBy: "\n")).run(directives)
    }
}

func assertFileCheck(_ output: String, _ checks: String, file: StaticString = #filePath, line: UInt = #line) {
    if let failure = FileCheck.run(output, checks) {
        XCTFail("FileCheck failed at \(failure)", file: file, line: line)
    }
}
