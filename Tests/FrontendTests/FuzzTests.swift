import GraphIR
import XCTest
@testable import Frontend

/// Mutated versions of the real graphs: every one must lower or give a diagnostic; a trap
/// would kill the test process.
final class FuzzTests: XCTestCase {
    struct LCG {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int((state >> 33) % UInt64(max(n, 1)))
        }
    }

    func testMutatedGraphsNeverCrash() throws {
        let alphabet: [String] = "(){}[],.:;=+-*/%<>!?&|\"'`$#@\\ \n0123456789eaxzT_".map { String($0) } + ["99999999999", "-1", "0", "batch", "Linear(", "for i in 0..<", "func", "let", "Module {", "{ x in", "...", "2147483648"]
        var rng = LCG(state: 42)
        var diagnostics = 0, lowered = 0
        for name in GraphFileTests.all {
            let chars = Array(try Fixtures.source(name))
            for _ in 0..<150 {
                var text = chars
                for _ in 0..<(1 + rng.next(3)) {
                    let at = rng.next(text.count)
                    switch rng.next(3) {
                    case 0: if !text.isEmpty { text.remove(at: at) }
                    case 1: text.insert(contentsOf: Array(alphabet[rng.next(alphabet.count)]), at: at)
                    default: if !text.isEmpty { text[at] = Array(alphabet[rng.next(alphabet.count)]).first ?? " " }
                    }
                }
                do {
                    _ = try Frontend.lower(source: String(text), file: "fuzz.swiftgraph", options: FrontendOptions(mode: rng.next(2) == 0 ? .train : .infer))
                    lowered += 1
                } catch let d as Diagnostic {
                    XCTAssertFalse(d.message.isEmpty)
                    XCTAssertGreaterThanOrEqual(d.location.line, 1)
                    diagnostics += 1
                }
            }
        }
        XCTAssertGreaterThan(diagnostics, 100)
        print("fuzz: \(lowered) lowered, \(diagnostics) diagnostics")
    }

    func testHugeSizesAreErrors() {
        let cases: [(String, String)] = [
            ("let fc = Linear(4611686018427387904)\n", "is too large"),
            ("let x = input(\"x\", [2147483649, 2])\n", "is too large"),
            ("let x = input(\"x\", [2147483647, 2147483647, 2147483647])\n", "has too many elements"),
            ("let x = input(\"x\", [batch, 2147483647])\nlet fc = Linear(2147483647)\noutput(\"y\", fc(x))\n", "has too many elements"),
            ("let x = input(\"x\", [batch, 4])\noutput(\"y\", x.reshape([2147483647, 2147483647, 2147483647, -1]))\n", "has too many elements"),
            ("for i in -9223372036854775807..<9223372036854775807 {\n}\n", "loop runs more than"),
        ]
        for (source, message) in cases {
            let d = expectDiagnostic(source)
            XCTAssertTrue(d?.message.contains(message) ?? false, "\(source): \(d?.message ?? "no error")")
        }
    }
}
