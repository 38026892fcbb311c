import GraphIR
import XCTest
@testable import Frontend

/// Malformed programs: each must give a located diagnostic with the right message, line and
/// column, the source line and a caret, and never crash.
final class ErrorTests: XCTestCase {
    struct Case {
        let name: String
        let source: String
        let line: Int
        let column: Int
        let message: String
    }

    static let x3 = "let x = input(\"x\", [batch, 3])\n"

    static let cases: [Case] = [
        Case(name: "class", source: "class Foo {}\n", line: 1, column: 1, message: "`class` is not part of the graphc DSL"),
        Case(name: "struct", source: "let a = 1\nstruct S {}\n", line: 2, column: 1, message: "`struct` is not part of the graphc DSL"),
        Case(name: "protocol", source: "protocol P {}\n", line: 1, column: 1, message: "`protocol` is not part of the graphc DSL"),
        Case(name: "enum", source: "enum E { case a }\n", line: 1, column: 1, message: "`enum` is not part of the graphc DSL"),
        Case(name: "while", source: "var i = 0\nwhile i < 3 { i += 1 }\n", line: 2, column: 1, message: "`while` is not part of the graphc DSL"),
        Case(name: "repeat", source: "repeat { } while true\n", line: 1, column: 1, message: "`repeat` is not part of the graphc DSL"),
        Case(name: "switch", source: "switch mode {\ncase .train: break\n}\n", line: 1, column: 1, message: "`switch` is not part of the graphc DSL"),
        Case(name: "try", source: "let x = try f()\n", line: 1, column: 9, message: "`try` is not part of the graphc DSL"),
        Case(name: "import", source: "import Foundation\n", line: 1, column: 1, message: "`import` is not part of the graphc DSL"),
        Case(name: "generic func", source: "func f<T>(_ x: T) -> T { return x }\n", line: 1, column: 7, message: "generic functions are not part of the graphc DSL"),
        Case(name: "closure", source: "let f = { x in x }\n", line: 1, column: 9, message: "closures are only allowed as `Sequential { ... }` and `Module { x in ... }`"),
        Case(name: "closure after call", source: "let y = foo(1) { 2 }\n", line: 1, column: 16, message: "closures are only allowed"),
        Case(name: "anonymous closure argument", source: "let s = Sequential { $0 }\n", line: 1, column: 22, message: "anonymous closure arguments (`$0`)"),
        Case(name: "optional", source: "let x: Int? = 3\n", line: 1, column: 11, message: "optional types are not part of the graphc DSL"),
        Case(name: "nil", source: "let x = nil\n", line: 1, column: 9, message: "`nil` is not part of the graphc DSL (there are no optionals)"),
        Case(name: "undefined name", source: x3 + "output(\"y\", relu(z))\n", line: 2, column: 18, message: "cannot find `z` in scope"),
        Case(name: "unknown layer", source: "let c = Conv3d(3)\n", line: 1, column: 9, message: "unknown layer `Conv3d`"),
        Case(name: "unknown method", source: x3 + "output(\"y\", x.foo())\n", line: 2, column: 13, message: "tensors have no method `foo`"),
        Case(name: "wrong label", source: "let c = Conv2d(16, kernal: 3)\n", line: 1, column: 20, message: "`Conv2d` has no argument labelled `kernal:`"),
        Case(name: "missing argument", source: "let c = Conv2d(16)\n", line: 1, column: 9, message: "missing argument `kernel:` in call to `Conv2d`"),
        Case(name: "extra argument", source: "let r = ReLU(1)\n", line: 1, column: 14, message: "extra argument in call to `ReLU`"),
        Case(name: "tensor where Int expected", source: "let x = input(\"x\", [batch, 4])\nlet fc = Linear(x)\n", line: 2, column: 17,
             message: "argument `features` of `Linear` must be an Int, got a tensor f32[B,4]"),
        Case(name: "Linear(in:out:) mismatch", source: "let x = input(\"x\", [batch, 1152])\nlet fc = Linear(in: 1000, out: 600)\noutput(\"y\", fc(x))\n",
             line: 3, column: 13, message: "Linear `fc`: declared with 1000 input features (weight [600,1000]) but its input f32[B,1152] has 1152"),
        Case(name: "Linear mismatch in Sequential", source: "let x = input(\"x\", [batch, 1152])\nlet head = Sequential {\n    Linear(in: 1000, out: 600)\n}\noutput(\"y\", head(x))\n",
             line: 3, column: 5, message: "Linear `head.0`: declared with 1000 input features"),
        Case(name: "broadcast mismatch", source: "let a = input(\"a\", [batch, 3])\nlet b = input(\"b\", [batch, 4])\noutput(\"y\", a + b)\n",
             line: 3, column: 13, message: "add: shapes [B,3] and [B,4] do not broadcast"),
        Case(name: "conv input rank", source: "let x = input(\"x\", [batch, 10])\nlet c = Conv2d(3, kernel: 3)\noutput(\"y\", c(x))\n",
             line: 3, column: 13, message: "Conv2d `c` expects an input [batch, channels, height, width], got f32[B,10]"),
        Case(name: "conv channel mismatch", source: "let x = input(\"x\", [batch, 3, 8, 8])\nlet c = Conv2d(1, 4, kernel: 3)\noutput(\"y\", c(x))\n",
             line: 3, column: 13, message: "Conv2d `c`: declared with 1 input channels but its input f32[B,3,8,8] has 3"),
        Case(name: "index out of range", source: "let x = input(\"x\", [batch, 5])\noutput(\"y\", x[.all, 7])\n", line: 2, column: 21,
             message: "select: index 7 is out of range for axis 1 of f32[B,5]"),
        Case(name: "unterminated string", source: "let s = \"abc\n", line: 1, column: 9, message: "unterminated string literal"),
        Case(name: "unterminated comment", source: "let x = 1 /* never\nclosed\n", line: 1, column: 11, message: "unterminated block comment"),
        Case(name: "bad number", source: "let x = 12abc\n", line: 1, column: 9, message: "invalid number literal `12abc`"),
        Case(name: "bad float", source: "let x = 1.5.2\n", line: 1, column: 9, message: "invalid number literal `1.5.2`"),
        Case(name: "integer literal overflow", source: "let n = 99999999999999999999\n", line: 1, column: 9, message: "integer literal `99999999999999999999` overflows a 64-bit Int"),
        Case(name: "integer overflow", source: "let n = 9223372036854775807 + 1\n", line: 1, column: 9, message: "integer overflow in `+`"),
        Case(name: "division by zero", source: "let n = 10 / (3 - 3)\n", line: 1, column: 15, message: "division by zero"),
        Case(name: "remainder by zero", source: "let z = 0\nlet n = 10 % z\n", line: 2, column: 14, message: "remainder by zero"),
        Case(name: "huge loop", source: "for i in 0..<1000000000 {\n}\n", line: 1, column: 10, message: "loop runs 1000000000 times; the unrolling limit is 100000 iterations"),
        Case(name: "missing loss", source: x3 + "output(\"y\", relu(x))\ntrain(on: .fashionMNIST)\n", line: 3, column: 1,
             message: "`train(...)` is declared but the graph has no loss in mode .train"),
        Case(name: "assign to let", source: "let a = 1\na = 2\n", line: 2, column: 1, message: "cannot assign to `a`: it is a `let` constant"),
        Case(name: "redeclaration", source: "let a = 1\nlet a = 2\n", line: 2, column: 5, message: "invalid redeclaration of `a`"),
        Case(name: "tensor condition", source: x3 + "if x {\n}\n", line: 2, column: 4, message: "an `if` condition must be a compile-time Bool, got a tensor f32[B,3]"),
        Case(name: "tensor comparison", source: x3 + "let b = x < 1\n", line: 2, column: 9, message: "`<` compares compile-time values"),
        Case(name: "recursion", source: "func f(_ n: Int) -> Int { return f(n) }\nlet y = f(1)\n", line: 1, column: 34,
             message: "calls are nested more than 64 deep"),
        Case(name: "return outside function", source: "return 1\n", line: 1, column: 1, message: "`return` outside a function"),
        Case(name: "duplicate output", source: x3 + "output(\"y\", x)\noutput(\"y\", x)\n", line: 3, column: 1, message: "an output named \"y\" is already declared"),
        Case(name: "loss not scalar", source: x3 + "loss(x)\n", line: 2, column: 6, message: "the loss must be an f32 scalar, got f32[B,3]"),
        Case(name: "Sequential item not a layer", source: "let s = Sequential {\n    3\n}\n", line: 2, column: 5, message: "`Sequential` items must be layers, got the Int 3"),
        Case(name: "statements on one line", source: "let a = 1 let b = 2\n", line: 1, column: 11, message: "consecutive statements on a line must be separated by `;`"),
        Case(name: "empty program", source: "// nothing\n", line: 1, column: 1, message: "declares no `loss(...)` and no `output(...)`"),
        Case(name: "float token ids", source: x3 + "let e = Embedding(10, 4)\noutput(\"y\", e(x))\n", line: 3, column: 13, message: "Embedding `e` expects i64 token ids, got f32[B,3]"),
        Case(name: "unexpected character", source: "let a = 1 ¤ 2\n", line: 1, column: 11, message: "unexpected character `¤`"),
        Case(name: "unbalanced brace", source: "let a = 1\n}\n", line: 2, column: 1, message: "unexpected `}`: no block is open here"),
        Case(name: "missing closing brace", source: "for i in 0..<3 {\n    let a = i\n", line: 3, column: 1, message: "expected `}` before end of file"),
        Case(name: "Module func without Module", source: "func B() -> Module {\n    let c = Linear(3)\n}\nlet b = B()\n", line: 1, column: 1,
             message: "`B` must return a value of type Module"),
        Case(name: "wrong argument type to user func", source: "func f(_ n: Int) -> Int { return n }\nlet y = f(2.5)\n", line: 2, column: 11,
             message: "argument `n` of `f` must be Int, got the Double 2.5"),
        Case(name: "unknown type", source: "func f(_ n: Matrix) -> Int { return 1 }\nlet y = f(2)\n", line: 2, column: 11, message: "unknown type `Matrix`"),
        Case(name: "bad escape", source: "let s = \"a\\qb\"\n", line: 1, column: 11, message: "invalid escape sequence `\\q`"),
        Case(name: "matmul mismatch", source: "let a = input(\"a\", [4, 3])\nlet b = input(\"b\", [4, 3])\noutput(\"y\", matmul(a, b))\n",
             line: 3, column: 13, message: "matmul: inner dimensions differ"),
        Case(name: "bad init", source: "let fc = Linear(3, weightInit: .uniform(0, 1))\n", line: 1, column: 20, message: "`.uniform(low, high)` must be symmetric around zero"),
        Case(name: "padding same with stride", source: "let c = Conv2d(3, kernel: 3, stride: 2, padding: .same)\n", line: 1, column: 41, message: "`padding: .same` needs stride 1"),
        Case(name: "dropout probability", source: "let d = Dropout(1.5)\n", line: 1, column: 17, message: "dropout probability must be in [0, 1), got 1.5"),
        Case(name: "bad dtype", source: "let x = input(\"x\", [batch, 3], .int8)\n", line: 1, column: 32, message: "argument `dtype` of `input` must be `.float32` or `.int64`"),
        Case(name: "LSTM call shape", source: "let x = input(\"x\", [batch, 5])\nlet cell = LSTMCell(4, 8)\nlet h = input(\"h\", [batch, 8])\nlet (a, b) = cell(x, (h, h))\n",
             line: 4, column: 19, message: "LSTMCell `cell` expects input [batch, 4], got f32[B,5]"),
        Case(name: "as cast", source: "let a = 1 as Int\n", line: 1, column: 11, message: "`as` is not part of the graphc DSL"),
        Case(name: "bitwise operator", source: "let a = 1 & 2\n", line: 1, column: 11, message: "operator `&` is not part of the graphc DSL"),
        Case(name: "unbalanced paren", source: "let a = (1 + 2))\n", line: 1, column: 16, message: "unexpected `)`"),
        Case(name: "unknown mode", source: "if mode == .test {\n}\n", line: 1, column: 12, message: "`.test` is not a mode; `mode` is `.train` or `.infer`"),
        Case(name: "empty input name", source: "let x = input(\"\", [batch, 2])\n", line: 1, column: 15, message: "an input needs a non-empty name"),
        Case(name: "string interpolation", source: "let s = \"a\\(1)\"\n", line: 1, column: 11, message: "string interpolation is not part of the graphc DSL"),
        Case(name: "wrong method label", source: "let x = input(\"x\", [batch, 2])\nlet y = x.mean(axis: 1, keepdim: true)\n", line: 2, column: 25,
             message: "`mean` has no argument labelled `keepdim:`"),
        Case(name: "layer called with label", source: "let x = input(\"x\", [batch, 2])\nlet fc = Linear(2)\nlet y = fc(input: x)\n", line: 3, column: 12,
             message: "layers are called without argument labels"),
        Case(name: "layer arity", source: "let x = input(\"x\", [batch, 2])\nlet fc = Linear(2)\nlet y = fc(x, x)\n", line: 3, column: 9,
             message: "Linear `fc` takes 1 input, got 2"),
        Case(name: "BatchNorm2d on a matrix", source: "let x = input(\"x\", [batch, 2])\nlet bn = BatchNorm2d()\nlet y = bn(x)\noutput(\"y\", y)\n", line: 3, column: 9,
             message: "BatchNorm2d `bn` expects a 4-D input [N, C, H, W], got f32[B,2]"),
        Case(name: "closed range to Int.max", source: "let r = 0...9223372036854775807\n", line: 1, column: 9,
             message: "range 0...9223372036854775807: the upper bound is too large"),
        Case(name: "mutating a let array", source: "let xs: [Tensor] = []\nxs.append(input(\"x\", [2]))\n", line: 2, column: 1,
             message: "cannot mutate `xs`: it is a `let` constant"),
    ]

    func testCorpus() {
        XCTAssertGreaterThanOrEqual(Self.cases.count, 25)
        for c in Self.cases {
            guard let d = expectDiagnosticNamed(c) else { continue }
            XCTAssertTrue(d.message.contains(c.message), "[\(c.name)] message: \(d.message)")
            XCTAssertEqual(d.location.line, c.line, "[\(c.name)] line; \(d.message)")
            XCTAssertEqual(d.location.column, c.column, "[\(c.name)] column; \(d.message)")
            XCTAssertEqual(d.location.file, "bad.swiftgraph", "[\(c.name)]")
            // Rendered like a compiler: location, the source line, a caret under the column.
            let lines = d.render().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            XCTAssertTrue(lines[0].hasPrefix("bad.swiftgraph:\(c.line):\(c.column): error: "), "[\(c.name)] \(lines[0])")
            if lines.count >= 3 {
                XCTAssertEqual(lines[1], Diagnostic.line(c.line, of: c.source), "[\(c.name)]")
                XCTAssertEqual(lines[2].count, c.column, "[\(c.name)] caret column")
                XCTAssertTrue(lines[2].hasSuffix("^"), "[\(c.name)]")
            } else {
                XCTFail("[\(c.name)] no source line in \(d.render())")
            }
        }
    }

    private func expectDiagnosticNamed(_ c: Case) -> Diagnostic? {
        do {
            _ = try Frontend.lower(source: c.source, file: "bad.swiftgraph")
            XCTFail("[\(c.name)] lowered without error")
        } catch let d as Diagnostic {
            return d
        } catch {
            XCTFail("[\(c.name)] unexpected error \(error)")
        }
        return nil
    }

    func testDeepNestingIsAnErrorNotACrash() {
        let source = "let x = " + String(repeating: "(", count: 200) + "1" + String(repeating: ")", count: 200) + "\n"
        guard let d = expectDiagnostic(source) else { return }
        XCTAssertTrue(d.message.contains("nested too deeply"), d.message)
        XCTAssertEqual(d.location.line, 1)
        // The guard trips inside the parentheses, not at their end.
        XCTAssertLessThan(d.location.column, 9 + 200)
        XCTAssertGreaterThan(d.location.column, 9)
    }

    func testDeeplyNestedBlocksAndCalls() {
        let blocks = String(repeating: "if true {\n", count: 300) + String(repeating: "}\n", count: 300)
        XCTAssertTrue(expectDiagnostic(blocks)?.message.contains("nested too deeply") ?? false)
        let calls = "let x = " + String(repeating: "relu(", count: 300) + "1" + String(repeating: ")", count: 300)
        XCTAssertTrue(expectDiagnostic(calls)?.message.contains("nested too deeply") ?? false)
        let unary = "let x = " + String(repeating: "-", count: 5000) + "1"
        XCTAssertNotNil(expectDiagnostic(unary))
    }

    func testRunawayStatementsAreCut() throws {
        // 100,000 x 100,000 iterations: each loop is under the unrolling limit, the total is not.
        // Empty loop bodies count too, or the nested empty loop would spin for hours.
        for body in ["        s += 1\n", ""] {
            let source = "var s = 0\nfor i in 0..<100000 {\n    for j in 0..<100000 {\n\(body)    }\n}\n"
            var options = FrontendOptions()
            options.maxSteps = 50_000
            do {
                _ = try Frontend.lower(source: source, file: "spin.swiftgraph", options: options)
                XCTFail("expected the step limit to trip")
            } catch let d as Diagnostic {
                XCTAssertTrue(d.message.contains("more than 50000 statements at compile time"), d.message)
            }
        }
        XCTAssertEqual(FrontendOptions().maxSteps, 1_000_000)
    }

    func testNodeLimit() {
        var options = FrontendOptions()
        options.maxNodes = 500
        let source = "let x = input(\"x\", [batch, 3])\nvar y = x\nfor i in 0..<1000 {\n    y = relu(y)\n}\noutput(\"y\", y)\n"
        do {
            _ = try Frontend.lower(source: source, file: "big.swiftgraph", options: options)
            XCTFail("expected the node limit to trip")
        } catch let d as Diagnostic {
            XCTAssertTrue(d.message.contains("the graph grows past 500 nodes"), d.message)
            XCTAssertEqual(d.location.line, 4)
        } catch { XCTFail("\(error)") }
    }

    func testUnreadableFile() {
        do {
            _ = try Frontend.lower(path: "/nonexistent/dir/model.swiftgraph")
            XCTFail("expected an error")
        } catch let d as Diagnostic {
            XCTAssertEqual(d.location.file, "/nonexistent/dir/model.swiftgraph")
            XCTAssertTrue(d.message.contains("cannot read the graph file"), d.message)
        } catch { XCTFail("\(error)") }
        // A directory is not a graph file either.
        XCTAssertThrowsError(try Frontend.lower(path: Fixtures.repo + "/graphs"))
    }

    /// Every prefix of a real graph is malformed in some way (or valid): none may crash.
    func testTruncatedGraphsNeverCrash() throws {
        let source = try Fixtures.source("caption_attention")
        let chars = Array(source)
        var k = 0
        while k < chars.count {
            _ = try? Frontend.lower(source: String(chars[0..<k]), file: "cut.swiftgraph")
            k += 7
        }
    }
}

final class LineEndingTests: XCTestCase {
    func testCRLFAndBOM() throws {
        let source = "\u{FEFF}let x = input(\"x\", [batch, 3])\r\nlet y = relu(x)\r\noutput(\"y\", y)\r\n"
        let g = try Frontend.lower(source: source, file: "crlf.swiftgraph")
        XCTAssertEqual(g.nodes.last?.location?.line, 2)
        let bad = "let x = 1\r\nlet y = q\r\n"
        do {
            _ = try Frontend.lower(source: bad, file: "crlf.swiftgraph")
            XCTFail("expected an error")
        } catch let d as Diagnostic {
            XCTAssertEqual(d.location.line, 2)
            XCTAssertEqual(d.location.column, 9)
            XCTAssertEqual(d.sourceLine, "let y = q")
        }
    }
}

final class SuggestionTests: XCTestCase {
    func testDidYouMean() {
        let cases: [(String, String)] = [
            ("let image = input(\"x\", [batch, 3])\noutput(\"y\", relu(imgae))\n", "cannot find `imgae` in scope; did you mean `image`?"),
            ("let c = Conv2D(16, kernel: 3)\n", "unknown layer `Conv2D`; did you mean `Conv2d`?"),
            ("let c = Conv2d(16, kernal: 3)\n", "`Conv2d` has no argument labelled `kernal:`; did you mean `kernel:`?"),
            ("let x = input(\"x\", [batch, 3])\noutput(\"y\", x.maen(axis: 1))\n", "tensors have no method `maen`; did you mean `mean`?"),
            ("let x = input(\"x\", [bacth, 3])\n", "did you mean `batch`?"),
        ]
        for (source, message) in cases {
            let d = expectDiagnostic(source)
            XCTAssertTrue(d?.message.contains(message) ?? false, d?.message ?? "no error")
        }
        XCTAssertEqual(Suggestions.distance("kitten", "sitting", limit: 5), 3)
        XCTAssertEqual(Suggestions.distance("", "ab", limit: 5), 2)
        XCTAssertEqual(Suggestions.distance("sdg", "sgd", limit: 2), 1)
        XCTAssertNil(Suggestions.closest(to: "zzzzzz", in: ["batch", "mode"]))
    }
}
