import XCTest
@testable import GraphIR

final class IRParserTests: XCTestCase {
    /// A graph using every printable feature: scopes, locations, symbolic dims, every
    /// attribute kind (with awkward floats and strings), outputs, loss and metadata.
    func richGraph() throws -> Graph {
        let b = GraphBuilder(name: "rich_model.v2")
        let B = Dim.symbol("B")
        b.location = SourceLocation(file: "graphs/cnn.swiftgraph", line: 2, column: 13)
        let x = b.input("image", .f32(Shape([B, .known(1), .known(8), .known(8)])))
        let labels = b.input("labels", .i64(Shape([B])))
        b.location = SourceLocation(file: "dir with space/\"quoted\"\\name.swiftgraph", line: 40, column: 1)
        let w = b.parameter("conv.weight", .f32([4, 1, 3, 3]), initializer: [
            "init": .string("uniform"), "bound": .float(1.0 / 3.0), "low": .float(-0.0), "high": .float(.leastNonzeroMagnitude),
            "mean": .float(1.7976931348623157e308), "value": .float(.nan), "trainable": .bool(true),
        ])
        let bias = b.parameter("conv.bias", .f32([4]), initializer: ["init": .string("zeros"), "buffer": .bool(false)])
        b.scope = "convblock1.0"
        b.location = SourceLocation(file: "graphs/cnn.swiftgraph", line: 5, column: 9)
        let conv = try b.emit(.conv2d, [x, w, bias], ["stride": .ints([1, 1]), "padding": .ints([1, 1])])
        let act = try b.emit(.relu, [conv])
        let mask = try b.emit(.dropoutMask, [act], ["p": .float(0.3)])
        let dropped = try b.emit(.mul, [act, mask])
        b.scope = ""
        b.location = nil
        let flat = try b.emit(.reshape, [dropped], ["shape": .shape(Shape([B, .known(-1)]))])
        let scaled = try b.emit(.scale, [flat], ["factor": .float(1e-05)])
        let clamped = try b.emit(.clamp, [scaled], ["min": .float(-.infinity), "max": .float(2.5e10)])
        let t = try b.emit(.transpose, [clamped], ["perm": .ints([1, 0])])
        let back = try b.emit(.transpose, [t], ["perm": .ints([1, 0])])
        let parts = try b.emit(.reshape, [back], ["shape": .shape(Shape([B, .known(4), .known(64)]))])
        let pooled = try b.emit(.sum, [parts], ["axes": .ints([2]), "keepdims": .bool(false)])
        let c = try b.scalar(0.1)
        let shifted = try b.emit(.add, [pooled, c])
        b.scope = "head"
        b.location = SourceLocation(file: "graphs/cnn.swiftgraph", line: 9, column: 0)
        let lp = try b.emit(.logSoftmax, [shifted], ["axis": .int(-1)])
        let loss = try b.emit(.nllLoss, [lp, labels], ["ignore_index": .int(-100)])
        b.outputs = [("logProbs", lp), ("odd \"name\"", shifted)]
        b.loss = loss
        b.metadata = ["train": .string("fashionMNIST"), "metric": .string("accuracy"), "lr": .float(0.01),
                      "epochs": .int(15), "shuffle": .bool(true), "image": .shape(Shape([B, .known(1), .known(28), .known(28)])),
                      "sweep": .ints([1, 10, 100]),
                      // Attribute values that stress the grammar (node attributes must fit their op's schema).
                      "offset": .int(-42), "ninf": .float(-.infinity), "pinf": .float(.infinity),
                      "note": .string("tab\there \"q\" back\\slash\nnewline ünïcödé"), "frozen": .bool(false),
                      "empty": .ints([]), "dims": .ints([-1, 0, 7])]
        return b.finish()
    }

    func testRoundTripIsIdentity() throws {
        let text = IRPrinter.print(try richGraph())
        let parsed = try IRParser.parse(text, file: "rich.gir", metaKeys: .any)
        XCTAssertEqual(IRPrinter.print(parsed), text)
        // And the parsed graph really holds what was printed, not just equal text.
        let original = try richGraph()
        XCTAssertEqual(parsed.name, "rich_model.v2")
        XCTAssertEqual(parsed.nodes.count, original.nodes.count)
        for (a, b) in zip(parsed.nodes, original.nodes) {
            XCTAssertEqual(a.op, b.op)
            XCTAssertEqual(a.inputs, b.inputs)
            XCTAssertEqual(a.type, b.type)
            XCTAssertEqual(a.location, b.location)
            XCTAssertEqual(a.scope, b.scope)
            XCTAssertEqual(a.attributes.entries.map(\.key), b.attributes.entries.map(\.key))
        }
        let w = parsed[Value(2)].attributes
        XCTAssertEqual(w.float("bound")?.bitPattern, (1.0 / 3.0).bitPattern)
        XCTAssertEqual(w.float("low")?.sign, .minus)
        XCTAssertEqual(w.float("high"), .leastNonzeroMagnitude)
        XCTAssertEqual(w.float("mean"), 1.7976931348623157e308)
        XCTAssertTrue(w.float("value")?.isNaN ?? false)
        let meta = parsed.metadata
        XCTAssertEqual(meta.float("ninf"), -.infinity)
        XCTAssertEqual(meta.int("offset"), -42)
        XCTAssertEqual(meta.string("note"), "tab\there \"q\" back\\slash\nnewline ünïcödé")
        XCTAssertEqual(meta.ints("empty"), [])
        XCTAssertEqual(meta.ints("dims"), [-1, 0, 7])
        XCTAssertEqual(parsed[Value(2)].location?.file, "dir with space/\"quoted\"\\name.swiftgraph")
        XCTAssertEqual(parsed.outputs.map(\.name), ["logProbs", "odd \"name\""])
        XCTAssertEqual(parsed.loss, original.loss)
        XCTAssertEqual(parsed.metadata.shape("image"), Shape([.symbol("B"), .known(1), .known(28), .known(28)]))
        XCTAssertEqual(parsed.type(of: Value(9)).description, "f32[B,256]")
    }

    func testRoundTripWithoutLocationsAndOfEmptyGraph() throws {
        let text = IRPrinter.print(try richGraph(), locations: false)
        XCTAssertEqual(IRPrinter.print(try IRParser.parse(text, file: "a.gir", metaKeys: .any), locations: true), text)
        let empty = IRPrinter.print(GraphBuilder(name: "e").finish())
        XCTAssertEqual(empty, "graph @e {\n}\n")
        XCTAssertEqual(IRPrinter.print(try IRParser.parse(empty, file: "e.gir")), empty)
    }

    func testHandWrittenIRWithNamesCommentsAndInferredTypes() throws {
        let g = try IRParser.parse("""
        // a comment before the graph
        graph @hand {   // trailing comment

          %x = input() {name="x"} : f32[N, 3]     // spaces inside types are fine
          %w.0 = param() {name="w", init="normal", std=1e-2} : f32[3,2]
          %y = matmul(%x, %w.0)
          %z = relu( %y ) : f32[N,2]
          output "z" = %z
        }
        // after
        """, file: "hand.gir")
        XCTAssertEqual(IRPrinter.print(g), """
        graph @hand {
          %0 = input() {name="x"} : f32[N,3]
          %1 = param() {name="w", init="normal", std=0.01} : f32[3,2]
          %2 = matmul(%0, %1) : f32[N,2]
          %3 = relu(%2) : f32[N,2]
          output "z" = %3
        }

        """)
    }

    func testCRLFLineEndings() throws {
        let text = IRPrinter.print(try richGraph())
        let crlf = text.replacingOccurrences(of: "\n", with: "\r\n")
        XCTAssertEqual(IRPrinter.print(try IRParser.parse(crlf, file: "w.gir", metaKeys: .any)), text)
    }

    func testTrustDeclaredKeepsWrittenTypes() throws {
        let text = """
        graph @g {
          %0 = input() {name="x"} : f32[4]
          %1 = relu(%0) : f32[9]
          %2 = exp(%1)
        }
        """
        XCTAssertThrowsError(try IRParser.parse(text, file: "t.gir"))
        let g = try IRParser.parse(text, file: "t.gir", types: .trustDeclared)
        XCTAssertEqual(g.type(of: Value(1)).description, "f32[9]")
        XCTAssertEqual(g.type(of: Value(2)).description, "f32[9]", "undeclared types are still inferred")
    }

    // MARK: Malformed input: each error names the file, line and column.

    /// `graph @g {`, an input `%0 : f32[4]`, then `body`, then `}`.
    func wrap(_ body: String) -> String {
        "graph @g {\n  %0 = input() {name=\"x\"} : f32[4]\n" + body + "\n}\n"
    }

    func assertError(_ text: String, _ position: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try IRParser.parse(text, file: "bad.gir"), file: file, line: line) { error in
            guard let d = error as? Diagnostic else { return XCTFail("not a Diagnostic: \(error)", file: file, line: line) }
            let rendered = d.render()
            XCTAssertTrue(rendered.hasPrefix("bad.gir:\(position): error: "), rendered, file: file, line: line)
            XCTAssertTrue(d.message.contains(message), "expected \"\(message)\" in: \(d.message)", file: file, line: line)
            // The caret line sits under the column.
            let lines = rendered.split(separator: "\n", omittingEmptySubsequences: false)
            XCTAssertEqual(lines.count, 3, rendered, file: file, line: line)
            if lines.count == 3 { XCTAssertEqual(lines[2].count, d.location.column, rendered, file: file, line: line) }
        }
    }

    func testEmptyFileAndBadHeader() {
        assertError("", "1:1", "expected 'graph @name {', found an empty file")
        assertError("// only a comment\n\n", "1:1", "found an empty file")
        assertError("grph @g {\n}\n", "1:1", "expected 'graph @name {'")
        assertError("graph @ {\n}\n", "1:8", "expected a graph name after '@'")
        assertError("graph @g\n}\n", "1:9", "expected '{' after the graph name")
    }

    func testUnknownOpAndStatement() {
        assertError(wrap("  %1 = frobnicate(%0)"), "3:8", "unknown op 'frobnicate'")
        assertError(wrap("  outputs \"y\" = %0"), "3:3", "unknown statement 'outputs'")
        assertError(wrap("  ) = relu(%0)"), "3:3", "expected a statement")
    }

    func testUndefinedRedefinedAndUseBeforeDefinition() {
        assertError(wrap("  %1 = relu(%y)"), "3:13", "use of undefined value %y")
        assertError(wrap("  %1 = relu(%2)\n  %2 = relu(%0)"), "3:13", "value %2 is used before its definition at line 4")
        assertError(wrap("  %1 = relu(%1)"), "3:13", "value %1 is used before its definition at line 3")
        assertError(wrap("  %0 = relu(%0)"), "3:3", "value %0 is already defined at line 2")
        assertError(wrap("  output \"y\" = %q"), "3:16", "use of undefined value %q")
    }

    func testWrongArity() {
        assertError(wrap("  %1 = add(%0)"), "3:8", "op 'add' takes exactly 2 inputs, got 1")
        assertError(wrap("  %1 = conv2d(%0)"), "3:8", "op 'conv2d' takes 2 to 3 inputs, got 1")
        assertError(wrap("  %1 = input(%0) {name=\"y\"} : f32[4]"), "3:8", "op 'input' takes exactly 0 inputs, got 1")
    }

    func testTypeMismatchAndShapeRuleErrors() {
        assertError(wrap("  %1 = relu(%0) : f32[3]"), "3:19", "declared type f32[3] of %1 does not match the type f32[4] that relu infers")
        assertError(wrap("  %1 = argmax(%0) {axis=0} : f32[]"), "3:30", "declared type f32[] of %1 does not match the type i64[] that argmax infers")
        assertError(wrap("  %1 = matmul(%0, %0)"), "3:8", "matmul: operands must have rank 2 or more, got [4] and [4] (inputs: f32[4], f32[4])")
        assertError(wrap("  %1 = scale(%0)"), "3:8", "scale: missing attribute 'factor'")
        // Each operand is within the size limit, their broadcast is not.
        assertError("graph @g {\n  %a = input() {name=\"a\"} : f32[65536,1]\n  %b = input() {name=\"b\"} : f32[1,131072]\n  %c = add(%a, %b)\n}\n",
                    "4:8", "add: the result f32[65536,131072] holds more than 4294967296 elements")
        assertError(wrap("  %1 = input() {name=\"y\"}"), "3:26", "input %1 needs a declared type")
    }

    func testMalformedAttributes() {
        assertError(wrap("  %1 = scale(%0) {factor=}"), "3:26", "malformed attribute 'factor': expected a number, string, list, true/false or shape[...], found '}'")
        assertError(wrap("  %1 = scale(%0) {factor=yes}"), "3:26", "found 'yes'")
        assertError(wrap("  %1 = transpose(%0) {perm=[1.5]}"), "3:29", "malformed attribute 'perm': list elements must be integers")
        assertError(wrap("  %1 = transpose(%0) {perm=[0,}"), "3:31", "malformed attribute 'perm': expected a number")
        assertError(wrap("  %1 = select(%0) {axis=99999999999999999999, index=0}"), "3:25", "does not fit in a 64-bit integer")
        assertError(wrap("  %1 = scale(%0) {factor=1.}"), "3:28", "expected digits after '.'")
        assertError(wrap("  %1 = scale(%0) {factor=2e}"), "3:28", "expected digits in the exponent")
        // A literal past Double's range would silently become infinity.
        assertError(wrap("  %1 = scale(%0) {factor=1e400}"), "3:26", "malformed attribute 'factor': 1e400 is out of range for a 64-bit float")
        assertError(wrap("  %1 = scale(%0) {factor=2, factor=3}"), "3:29", "duplicate attribute 'factor'")
        assertError(wrap("  %1 = scale(%0) {factor 2}"), "3:26", "expected '=' after the attribute name 'factor'")
        assertError(wrap("  %1 = scale(%0) {factor=2"), "3:27", "expected ',' or '}' in the attributes")
        assertError(wrap("  %1 = reshape(%0) {shape=shape(4)}"), "3:32", "expected '[' after 'shape'")
        assertError(wrap("  %1 = reshape(%0) {shape=shape[2,-3]}"), "3:35", "malformed shape: invalid dimension -3")
        assertError(wrap("  %1 = reshape(%0) {shape=shape[0,-1]}"), "3:33", "malformed shape: invalid dimension 0 (dimensions must be positive)")
    }

    func testStringsAndLocations() {
        assertError(wrap("  %1 = input() {name=\"y} : f32[4]"), "3:22", "unterminated string")
        assertError(wrap("  %1 = input() {name=\"a\\qb\"} : f32[4]"), "3:24", "unknown escape '\\q' in string")
        assertError(wrap("  %1 = relu(%0) loc(\"f.sg\":x:1)"), "3:28", "malformed location line: expected a number, found 'x'")
        assertError(wrap("  %1 = relu(%0) loc(f.sg:1:1)"), "3:21", "expected a quoted file name in loc(...)")
        assertError(wrap("  %1 = relu(%0) scope(\"s\" loc(\"f\":1:1)"), "3:26", "expected ')' after the scope name")
        assertError(wrap("  %1 = relu(%0) loc(\"f\":1:1) scope(\"s\")"), "3:30", "unexpected 's' after the node")
    }

    func testBadTypes() {
        assertError("graph @g {\n  %0 = input() {name=\"x\"} : f16[4]\n}\n", "2:29", "bad type: unknown element type 'f16' (expected f32 or i64)")
        assertError("graph @g {\n  %0 = input() {name=\"x\"} : f32[4,-2]\n}\n", "2:35", "bad type: invalid dimension -2")
        assertError("graph @g {\n  %0 = input() {name=\"x\"} : f32[B,0]\n}\n", "2:35", "bad type: invalid dimension 0 (dimensions must be positive)")
        assertError("graph @g {\n  %0 = input() {name=\"x\"} : f32(4)\n}\n", "2:32", "bad type: expected '[' after 'f32'")
        assertError("graph @g {\n  %0 = input() {name=\"x\"} : f32[4\n}\n", "2:34", "bad type: expected ',' or ']' in the dimensions")
        assertError("graph @g {\n  %0 = input() {name=\"x\"} : f32[65536,65536,2]\n}\n", "2:45", "too many elements")
        assertError("graph @g {\n  %0 = input() {name=\"x\"} : [4]\n}\n", "2:29", "bad type: expected an element type")
    }

    func testStructureErrors() {
        assertError("graph @g {\n  %0 = input() {name=\"x\"} : f32[4]\n", "3:1", "expected '}' to close graph @g before the end of the file")
        assertError(wrap("") + "%5 = relu(%0)\n", "5:1", "unexpected text after the closing '}' of the graph")
        assertError(wrap("  output \"y\" = %0\n  output \"y\" = %0"), "4:10", "duplicate output name \"y\" (first given at line 3)")
        assertError(wrap("  loss = %0\n  loss = %0"), "4:3", "the loss is already set at line 3")
        assertError(wrap("  meta {epochs=1}\n  meta {seed=2}"), "4:3", "meta is already given at line 3")
        assertError(wrap("  meta {epochs=1, epoch=2}"), "3:19", "meta: unknown key 'epoch' (known keys: dataset, metric, epochs, batch_size, lr")
        assertError(wrap("  %1 = relu(%0) extra"), "3:17", "unexpected 'e' after the node")
        assertError("graph @g { %0\n}\n", "1:12", "unexpected '%' after 'graph @g {'")
        assertError(wrap("  } junk"), "3:5", "unexpected 'j' after '}'")
        assertError(wrap("  %1 = relu(%0 %0)"), "3:16", "expected ',' or ')' in the argument list")
    }

    /// Every prefix of a valid file, and the file with each single character removed, either
    /// parses or gives a Diagnostic: never a crash.
    func testTruncationsAndDeletionsNeverTrap() throws {
        let text = IRPrinter.print(try richGraph())
        let scalars = Array(text.unicodeScalars)
        var parsed = 0, rejected = 0
        func attempt(_ s: [Unicode.Scalar]) {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: s)
            do { _ = try IRParser.parse(String(view), file: "f.gir", metaKeys: .any); parsed += 1 } catch is Diagnostic { rejected += 1 } catch {
                XCTFail("not a Diagnostic: \(error)")
            }
        }
        for n in stride(from: 0, to: scalars.count, by: 3) { attempt(Array(scalars[0..<n])) }
        for i in stride(from: 0, to: scalars.count, by: 2) {
            var s = scalars
            s.remove(at: i)
            attempt(s)
        }
        XCTAssertGreaterThan(rejected, 0)
        XCTAssertGreaterThan(parsed, 0)
    }

    /// Seeded random edits with tokens that stress the grammar: the parser must answer with
    /// a graph or a Diagnostic, and whatever it accepts must print back to text it accepts.
    func testRandomEditsNeverTrap() throws {
        let base = Array(IRPrinter.print(try richGraph()).unicodeScalars)
        let tokens = ["%", "%0", "%99", "-", "-1", "[", "]", "{", "}", "(", ")", ",", ":", "=", "\"", "\\", "\n",
                      "shape[", "f32[", "i64[", "nan", "-inf", "1e999", "99999999999999999999", "4294967296",
                      "relu", "matmul", "output ", "loss = ", "meta {", "loc(", "scope(", "//", " ", "0", "B"]
        let rng = RandomSource(seed: 7)
        var accepted = 0
        for _ in 0..<3000 {
            var s = base
            for _ in 0..<(1 + rng.nextInt(below: 3)) {
                let at = rng.nextInt(below: s.count + 1)
                switch rng.nextInt(below: 3) {
                case 0:
                    s.insert(contentsOf: tokens[rng.nextInt(below: tokens.count)].unicodeScalars, at: at)
                case 1:
                    s.removeSubrange(at..<min(s.count, at + 1 + rng.nextInt(below: 8)))
                default:
                    if at < s.count { s[at] = tokens[rng.nextInt(below: tokens.count)].unicodeScalars.first ?? " " }
                }
            }
            var view = String.UnicodeScalarView()
            view.append(contentsOf: s)
            do {
                let g = try IRParser.parse(String(view), file: "fuzz.gir", metaKeys: .any)
                let again = IRPrinter.print(g)
                XCTAssertEqual(IRPrinter.print(try IRParser.parse(again, file: "fuzz2.gir", metaKeys: .any)), again)
                accepted += 1
            } catch is Diagnostic {
            } catch {
                XCTFail("not a Diagnostic: \(error)")
            }
        }
        XCTAssertGreaterThan(accepted, 0)
    }
}
