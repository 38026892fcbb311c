import GraphIR
import XCTest
@testable import Frontend

/// The parser on its own: precedence, Swift's whitespace rule for operators, statement
/// boundaries, closures, patterns and positions.
final class ParserTests: XCTestCase {
    /// An S-expression of an expression, to compare trees as text.
    func show(_ e: Expr) -> String {
        switch e.kind {
        case .integer(let n): return "\(n)"
        case .float(let d): return "\(d)"
        case .string(let s): return "\"\(s)\""
        case .bool(let b): return "\(b)"
        case .identifier(let n): return n
        case .implicitMember(let n): return ".\(n)"
        case .member(let b, let n): return "(. \(show(b)) \(n))"
        case .call(let c, let args, let closure):
            let a = args.map { ($0.label.map { "\($0): " } ?? "") + show($0.value) }
            return "(call \(show(c))" + a.map { " " + $0 }.joined() + (closure.map { " {\($0.params.joined(separator: ",")) | \($0.body.count)}" } ?? "") + ")"
        case .subscriptAccess(let b, let args): return "(sub \(show(b))" + args.map { " " + show($0.value) }.joined() + ")"
        case .unary(let op, let x): return "(\(op) \(show(x)))"
        case .binary(let op, let a, let b): return "(\(op) \(show(a)) \(show(b)))"
        case .postfixRange(let x): return "(\(show(x)) ...)"
        case .ternary(let c, let a, let b): return "(? \(show(c)) \(show(a)) \(show(b)))"
        case .tuple(let items): return "(tuple" + items.map { " " + show($0) }.joined() + ")"
        case .array(let items): return "[" + items.map(show).joined(separator: " ") + "]"
        }
    }

    func parseExpr(_ text: String) throws -> String {
        let program = try Parser.parse("let v = " + text)
        guard program.count == 1, case .declaration(_, let b) = program[0].kind, let e = b.first?.value else {
            XCTFail("not one declaration: \(text)"); return ""
        }
        return show(e)
    }

    func testPrecedenceAndAssociativity() throws {
        XCTAssertEqual(try parseExpr("1 + 2 * 3"), "(+ 1 (* 2 3))")
        XCTAssertEqual(try parseExpr("(1 + 2) * 3"), "(* (+ 1 2) 3)")
        XCTAssertEqual(try parseExpr("10 - 4 - 3"), "(- (- 10 4) 3)")
        XCTAssertEqual(try parseExpr("a == 1 && b < 2 || !c"), "(|| (&& (== a 1) (< b 2)) (! c))")
        XCTAssertEqual(try parseExpr("0..<n - 1"), "(..< 0 (- n 1))")
        XCTAssertEqual(try parseExpr("-x * 2"), "(* (- x) 2)")
        XCTAssertEqual(try parseExpr("c ? 1 : 2 + 3"), "(? c 1 (+ 2 3))")
        XCTAssertEqual(try parseExpr("7 % 3"), "(% 7 3)")
    }

    func testPostfixForms() throws {
        XCTAssertEqual(try parseExpr("captions[.all, t]"), "(sub captions .all t)")
        XCTAssertEqual(try parseExpr("captions[.all, 1...]"), "(sub captions .all (1 ...))")
        XCTAssertEqual(try parseExpr("x[..<5]"), "(sub x (..< 5))")
        XCTAssertEqual(try parseExpr("features.mean(axis: 1)"), "(call (. features mean) axis: 1)")
        XCTAssertEqual(try parseExpr("Linear(10)(x)"), "(call (call Linear 10) x)")
        XCTAssertEqual(try parseExpr("Linear(vocab, weightInit: .uniform(-0.1, 0.1))"),
                       "(call Linear vocab weightInit: (call .uniform (- 0.1) 0.1))")
        XCTAssertEqual(try parseExpr("Parameter(\"w\", [n, d], init: .zeros)"), "(call Parameter \"w\" [n d] init: .zeros)")
        XCTAssertEqual(try parseExpr("t.0"), "(. t 0)")
    }

    func testTrailingClosures() throws {
        XCTAssertEqual(try parseExpr("Sequential {\n ReLU()\n Linear(3)\n}"), "(call Sequential { | 2})")
        XCTAssertEqual(try parseExpr("Sequential { ReLU(); Linear(3) }"), "(call Sequential { | 2})")
        XCTAssertEqual(try parseExpr("Module { x in relu(x) }"), "(call Module {x | 1})")
        XCTAssertEqual(try parseExpr("Module { x, h in x }"), "(call Module {x,h | 1})")
        XCTAssertEqual(try parseExpr("Module { (x, h) in x }"), "(call Module {x,h | 1})")
    }

    /// Swift's rule: `a - b` and `a-b` are binary, `a -b` makes `-b` a prefix operand; a line
    /// starting with `-x` is a new statement.
    func testOperatorWhitespaceRule() throws {
        XCTAssertEqual(try parseExpr("a-b"), "(- a b)")
        XCTAssertEqual(try parseExpr("a - b"), "(- a b)")
        let program = try Parser.parse("let a = 1\nlet b = a\n-a\n")
        XCTAssertEqual(program.count, 3)
        // A binary operator may continue an expression on the next line.
        let continued = try Parser.parse("let a = 1\n    + 2\n")
        XCTAssertEqual(continued.count, 1)
    }

    func testStatements() throws {
        let program = try Parser.parse("""
        let a = 1, b = 2.5
        var (h, c) = (a, b)
        (h, c) = (c, h)
        h += 1
        for t in 0..<3 { h = t }
        if a > 0 { } else if a < 0 { } else { }
        func f(_ x: Int, scale s: Double = 1) -> [Tensor] { return [] }
        """)
        XCTAssertEqual(program.count, 7)
        guard case .declaration(true, let bindings) = program[0].kind else { return XCTFail() }
        XCTAssertEqual(bindings.count, 2)
        guard case .declaration(false, let tb) = program[1].kind, case .tuple(let names, _) = tb[0].pattern else { return XCTFail() }
        XCTAssertEqual(names.count, 2)
        guard case .assignment(let target, "", _) = program[2].kind else { return XCTFail() }
        XCTAssertEqual(show(target), "(tuple h c)")
        guard case .assignment(_, "+", _) = program[3].kind else { return XCTFail() }
        guard case .forIn(_, let seq, let body) = program[4].kind else { return XCTFail() }
        XCTAssertEqual(show(seq), "(..< 0 3)")
        XCTAssertEqual(body.count, 1)
        guard case .ifElse(_, _, let otherwise?) = program[5].kind, case .ifElse = otherwise[0].kind else { return XCTFail() }
        guard case .function(let f) = program[6].kind else { return XCTFail() }
        XCTAssertEqual(f.params.map(\.label), [nil, "scale"])
        XCTAssertEqual(f.params.map(\.name), ["x", "s"])
        XCTAssertEqual(f.returnType?.description, "[Tensor]")
    }

    func testCommentsAndPositions() throws {
        let program = try Parser.parse("/* a /* nested */ comment */ let a = 1 // trailing\n\n  let b = \"s\\\"q\"\n")
        XCTAssertEqual(program.map(\.pos), [Pos(line: 1, column: 30), Pos(line: 3, column: 3)])
        guard case .declaration(_, let b) = program[1].kind, case .string(let s)? = b[0].value?.kind else { return XCTFail() }
        XCTAssertEqual(s, "s\"q")
    }

    func testNumberLiterals() throws {
        XCTAssertEqual(try parseExpr("1_000"), "1000")
        XCTAssertEqual(try parseExpr("4e-4"), "0.0004")
        XCTAssertEqual(try parseExpr("0x1F"), "31")
        XCTAssertEqual(try parseExpr("2.5E2"), "250.0")
    }
}
