/// Reads the text IR that `IRPrinter` writes back into a `Graph`, so graphs can be saved,
/// edited by hand and fed to passes. Parse-then-print is the identity on printed graphs.
///
/// The format is line oriented: one statement per line, `//` starts a comment.
///
///     graph @name {
///       %v = op(%a, %b) {key=value, ...} : f32[B,16] scope("block.0") loc("m.swiftgraph":3:7)
///       output "name" = %v
///       loss = %v
///       meta {key=value, ...}
///     }
///
/// The grammar, with blanks allowed between tokens:
///
///     file   := "graph" "@" name "{" stmt* "}"          (each on its own line)
///     stmt   := value "=" op "(" [value ("," value)*] ")" [attrs] [":" type]
///                   ["scope(" string ")"] ["loc(" string ":" int ":" int ")"]
///             | "output" string "=" value | "loss" "=" value | "meta" attrs
///     attrs  := "{" [key "=" attr ("," key "=" attr)*] "}"
///     attr   := int | float | "nan" | "inf" | "-inf" | "[" [int ("," int)*] "]" | string
///             | "true" | "false" | "shape" dims
///     type   := ("f32" | "i64") dims
///     dims   := "[" [dim ("," dim)*] "]"     dim := int | symbol   (-1 only in `shape[...]`)
///
/// Value names are `%` plus letters, digits, `_` or `.`; they must be defined before use. The
/// attribute block, scope and location are optional, and so is the `: type` of ops other than
/// `input` and `param` (it is then inferred). Attribute values: integers, floats (with a `.`
/// or an exponent, or `nan`, `inf`, `-inf`), integer lists `[1,2]`, strings with `\"`, `\\`,
/// `\n`, `\t` escapes, `true`/`false`, and shapes `shape[B,-1]`.
///
/// Every node's shape rule runs; a declared type must equal the inferred one unless the caller
/// asks to trust declared types (so that `shape-inference` can re-type hand-edited IR). Every
/// problem is a `Diagnostic` pointing at the offending line and column.
public enum IRParser {
    public enum TypeChecking: Sendable {
        /// Declared result types must equal what the op's shape rule infers.
        case inferAndCheck
        /// Declared result types are taken as written; only undeclared ones are inferred.
        case trustDeclared
    }

    /// Which keys a `meta` line may hold.
    public enum MetaKeys: Sendable {
        /// The training settings and what passes record (`TrainingSettings.knownKeys`): an
        /// unknown key is a located error listing them.
        case known
        /// Any key (for tests of the attribute grammar, which use `meta` as a free dictionary).
        case any
    }

    public static func parse(_ text: String, file: String, types: TypeChecking = .inferAndCheck, metaKeys: MetaKeys = .known) throws -> Graph {
        var p = IRTextParser(lines: splitLines(text), file: file, types: types)
        p.metaKeys = metaKeys
        return try p.parseGraph()
    }

    /// Parses as `parse`, and also gives where each node is in the text (indexed by value id),
    /// so a later complaint about a node can point at its `.gir` line rather than at its
    /// `loc(...)`, which names the DSL file the graph came from.
    public static func parseWithPositions(_ text: String, file: String, types: TypeChecking = .inferAndCheck) throws -> (graph: Graph, positions: [SourceLocation]) {
        var p = IRTextParser(lines: splitLines(text), file: file, types: types)
        let g = try p.parseGraph()
        return (g, p.positions)
    }

    /// Lines as unicode scalars (columns count scalars), without `\n` or a trailing `\r`.
    static func splitLines(_ text: String) -> [[Unicode.Scalar]] {
        var lines: [[Unicode.Scalar]] = []
        var current: [Unicode.Scalar] = []
        for s in text.unicodeScalars {
            if s == "\n" {
                if current.last == "\r" { current.removeLast() }
                lines.append(current)
                current = []
            } else {
                current.append(s)
            }
        }
        if current.last == "\r" { current.removeLast() }
        lines.append(current)
        return lines
    }
}

extension Shape {
    /// The largest tensor graphc accepts (16 GiB of f32). IR files and shape inference reject
    /// bigger ones, which also keeps the integer arithmetic of shape rules (element counts,
    /// window sizes, concatenated lengths) far from overflow whatever a file says.
    public static let maxElementCount = 1 << 32

    /// Whether the product of the known dimensions stays within `maxElementCount`.
    public var isWithinElementLimit: Bool {
        var n = 1
        for d in dims {
            guard case .known(let k) = d else { continue }
            guard k.magnitude <= UInt(Shape.maxElementCount) else { return false }
            let (p, overflow) = n.multipliedReportingOverflow(by: max(Int(k.magnitude), 1))
            guard !overflow, p <= Shape.maxElementCount else { return false }
            n = p
        }
        return true
    }
}

private let maxElements = Shape.maxElementCount

private struct IRTextParser {
    let lines: [[Unicode.Scalar]]
    let file: String
    let types: IRParser.TypeChecking
    var cursor = LineCursor(text: [], line: 0, file: "")
    /// Where each node's statement starts, by value id.
    var positions: [SourceLocation] = []

    let builder = GraphBuilder(name: "")
    /// Value name -> (value, line where it was defined).
    var values: [String: (value: Value, line: Int)] = [:]
    /// Where each `%name` is defined, found by a quick scan, to tell "used before its
    /// definition" from "never defined".
    var definitionLines: [String: Int] = [:]
    var outputNames: [String: Int] = [:]
    var lossLine: Int?
    var metaLine: Int?
    var metaKeys = IRParser.MetaKeys.known
    /// Where each key of the last attribute block starts, to point at a bad attribute.
    var attributeColumns: [String: Int] = [:]

    init(lines: [[Unicode.Scalar]], file: String, types: IRParser.TypeChecking) {
        self.lines = lines; self.file = file; self.types = types
    }

    mutating func parseGraph() throws -> Graph {
        scanDefinitions()
        guard let headerIndex = nextStatement(from: 0) else {
            cursor = LineCursor(text: lines.first ?? [], line: 1, file: file)
            throw cursor.error("expected 'graph @name {', found an empty file", column: 1)
        }
        try parseHeader()
        var index = headerIndex + 1
        // Body up to the closing brace.
        var closed = false
        while let i = nextStatement(from: index) {
            index = i + 1
            if cursor.peek == "}" {
                cursor.advance()
                try cursor.expectEnd("after '}'")
                closed = true
                break
            }
            try parseStatement()
        }
        guard closed else {
            let last = lines.count
            cursor = LineCursor(text: lines.last ?? [], line: last, file: file)
            throw cursor.error("expected '}' to close graph @\(builder.name) before the end of the file", column: (lines.last?.count ?? 0) + 1)
        }
        if nextStatement(from: index) != nil {
            throw cursor.error("unexpected text after the closing '}' of the graph", column: cursor.column)
        }
        return builder.finish()
    }

    /// Positions the cursor at the first non-blank, non-comment line at or after `from`.
    mutating func nextStatement(from: Int) -> Int? {
        var i = from
        while i < lines.count {
            var c = LineCursor(text: lines[i], line: i + 1, file: file)
            c.skipSpaces()
            if !c.atEnd { cursor = c; return i }
            i += 1
        }
        return nil
    }

    mutating func scanDefinitions() {
        for (i, line) in lines.enumerated() {
            var c = LineCursor(text: line, line: i + 1, file: file)
            c.skipSpaces()
            guard c.peek == "%" else { continue }
            c.advance()
            let name = c.readWhile(isValueNameChar)
            if !name.isEmpty && definitionLines[name] == nil { definitionLines[name] = i + 1 }
        }
    }

    mutating func parseHeader() throws {
        let word = cursor.readWhile(isIdentifierChar)
        guard word == "graph" else {
            throw cursor.error("expected 'graph @name {' at the start of the file", column: cursor.column - word.count)
        }
        cursor.skipSpaces()
        try cursor.expect("@", "before the graph name")
        // Any name the printer can have written: everything up to a blank or the brace.
        let name = cursor.readWhile { $0 != " " && $0 != "\t" && $0 != "{" }
        guard !name.isEmpty else { throw cursor.error("expected a graph name after '@'", column: cursor.column) }
        builder.name = name
        cursor.skipSpaces()
        try cursor.expect("{", "after the graph name")
        try cursor.expectEnd("after 'graph @\(name) {'")
    }

    mutating func parseStatement() throws {
        if cursor.peek == "%" { return try parseNode() }
        let start = cursor.column
        let word = cursor.readWhile(isIdentifierChar)
        switch word {
        case "output": try parseOutput(column: start)
        case "loss": try parseLoss(column: start)
        case "meta": try parseMeta(column: start)
        case "":
            throw cursor.error("expected a statement ('%value = op(...)', 'output', 'loss', 'meta' or '}'), found \(cursor.found)", column: start)
        default:
            throw cursor.error("unknown statement '\(word)' (expected '%value = op(...)', 'output', 'loss', 'meta' or '}')", column: start)
        }
    }

    // MARK: Statements

    mutating func parseNode() throws {
        let nameColumn = cursor.column
        cursor.advance()  // %
        let name = cursor.readWhile(isValueNameChar)
        guard !name.isEmpty else { throw cursor.error("expected a value name after '%'", column: cursor.column) }
        if let earlier = values[name] {
            throw cursor.error("value %\(name) is already defined at line \(earlier.line)", column: nameColumn)
        }
        cursor.skipSpaces()
        try cursor.expect("=", "after %\(name)")
        cursor.skipSpaces()
        let opColumn = cursor.column
        let opName = cursor.readWhile(isIdentifierChar)
        guard !opName.isEmpty else { throw cursor.error("expected an op name, found \(cursor.found)", column: opColumn) }
        guard let op = OpRegistry.named(opName) else {
            throw cursor.error("unknown op '\(opName)'", column: opColumn)
        }
        cursor.skipSpaces()
        try cursor.expect("(", "after the op name '\(opName)'")
        let inputs = try parseArguments()
        cursor.skipSpaces()
        var attributes = Attributes()
        attributeColumns = [:]
        if cursor.peek == "{" { attributes = try parseAttributes() }
        cursor.skipSpaces()
        var declared: (type: TensorType, column: Int)?
        if cursor.peek == ":" {
            cursor.advance()
            cursor.skipSpaces()
            let column = cursor.column
            declared = (try parseType(), column)
        }
        cursor.skipSpaces()
        var scope = ""
        var location: SourceLocation?
        if cursor.startsWith("scope") {
            cursor.advance(by: 5)
            try cursor.expect("(", "after 'scope'")
            scope = try cursor.parseString()
            try cursor.expect(")", "after the scope name")
            cursor.skipSpaces()
        }
        if cursor.startsWith("loc") {
            cursor.advance(by: 3)
            location = try parseLocation()
            cursor.skipSpaces()
        }
        try cursor.expectEnd("after the node (expected attributes '{...}', ': type', 'scope(...)' or 'loc(...)' in that order)")

        guard op.arity.accepts(inputs.count) else {
            throw cursor.error("op '\(opName)' takes \(describe(op.arity)), got \(inputs.count)", column: opColumn)
        }
        do { try checkAttributes(attributes, of: op) } catch let e as AttributeError {
            throw cursor.error("\(opName): \(e.message)", column: attributeColumns[e.attribute] ?? opColumn)
        }
        let type: TensorType
        if op == .input || op == .param {
            guard let d = declared else {
                throw cursor.error("\(opName) %\(name) needs a declared type (': f32[...]')", column: cursor.column)
            }
            type = d.type
        } else if let d = declared, types == .trustDeclared {
            type = d.type
        } else {
            let inputTypes = inputs.map { builder.type(of: $0) }
            let inferred: TensorType
            do {
                inferred = try op.shape(ShapeQuery(inputs: inputTypes, attributes: attributes))
            } catch {
                let shapes = inputTypes.map(\.description).joined(separator: ", ")
                let message = (error as? ShapeError)?.message ?? String(describing: error)
                throw cursor.error("\(opName): \(message) (inputs: \(shapes))", column: opColumn)
            }
            guard inferred.shape.isWithinElementLimit else {
                throw cursor.error("\(opName): the result \(inferred) holds more than \(maxElements) elements", column: opColumn)
            }
            if let d = declared, d.type != inferred {
                throw cursor.error("declared type \(d.type) of %\(name) does not match the type \(inferred) that \(opName) infers", column: d.column)
            }
            type = inferred
        }
        let v = builder.append(Node(op: op, inputs: inputs, attributes: attributes, type: type, location: location, scope: scope))
        positions.append(SourceLocation(file: file, line: cursor.line, column: nameColumn))
        values[name] = (v, cursor.line)
    }

    mutating func parseOutput(column: Int) throws {
        cursor.skipSpaces()
        let nameColumn = cursor.column
        guard cursor.peek == "\"" else { throw cursor.error("expected the output's name as a string, found \(cursor.found)", column: nameColumn) }
        let name = try cursor.parseString()
        if let earlier = outputNames[name] {
            throw cursor.error("duplicate output name \"\(name)\" (first given at line \(earlier))", column: nameColumn)
        }
        cursor.skipSpaces()
        try cursor.expect("=", "after the output name")
        cursor.skipSpaces()
        let v = try parseValueReference()
        try cursor.expectEnd("after the output")
        outputNames[name] = cursor.line
        builder.outputs.append((name, v))
    }

    mutating func parseLoss(column: Int) throws {
        if let earlier = lossLine { throw cursor.error("the loss is already set at line \(earlier)", column: column) }
        cursor.skipSpaces()
        try cursor.expect("=", "after 'loss'")
        cursor.skipSpaces()
        let v = try parseValueReference()
        try cursor.expectEnd("after the loss")
        lossLine = cursor.line
        builder.loss = v
    }

    mutating func parseMeta(column: Int) throws {
        if let earlier = metaLine { throw cursor.error("meta is already given at line \(earlier)", column: column) }
        cursor.skipSpaces()
        guard cursor.peek == "{" else { throw cursor.error("expected '{' after 'meta', found \(cursor.found)", column: cursor.column) }
        builder.metadata = try parseAttributes()
        // An unknown key is a typo or a setting graphc does not have: refused, not ignored.
        let known = TrainingSettings.knownKeys
        if metaKeys == .known, let unknown = builder.metadata.entries.map(\.key).first(where: { !known.contains($0) }) {
            throw cursor.error("meta: unknown key '\(unknown)' (known keys: \(known.joined(separator: ", ")))",
                               column: attributeColumns[unknown] ?? column)
        }
        try cursor.expectEnd("after meta {...}")
        // The same rules as `train(...)` and the command line's flags (TrainingSettings).
        if let problem = TrainingSettings.problem(in: builder.metadata) { throw cursor.error("meta: \(problem)", column: column) }
        metaLine = cursor.line
    }

    // MARK: Pieces

    mutating func parseArguments() throws -> [Value] {
        var args: [Value] = []
        cursor.skipSpaces()
        if cursor.peek == ")" { cursor.advance(); return args }
        while true {
            cursor.skipSpaces()
            args.append(try parseValueReference())
            cursor.skipSpaces()
            if cursor.peek == "," { cursor.advance(); continue }
            if cursor.peek == ")" { cursor.advance(); return args }
            throw cursor.error("expected ',' or ')' in the argument list, found \(cursor.found)", column: cursor.column)
        }
    }

    mutating func parseValueReference() throws -> Value {
        let column = cursor.column
        guard cursor.peek == "%" else { throw cursor.error("expected a value ('%name'), found \(cursor.found)", column: column) }
        cursor.advance()
        let name = cursor.readWhile(isValueNameChar)
        guard !name.isEmpty else { throw cursor.error("expected a value name after '%'", column: cursor.column) }
        if let v = values[name] { return v.value }
        if let line = definitionLines[name], line >= cursor.line {
            throw cursor.error("value %\(name) is used before its definition at line \(line)", column: column)
        }
        throw cursor.error("use of undefined value %\(name)", column: column)
    }

    mutating func parseAttributes() throws -> Attributes {
        try cursor.expect("{", "to open the attributes")
        var attrs = Attributes()
        cursor.skipSpaces()
        if cursor.peek == "}" { cursor.advance(); return attrs }
        while true {
            cursor.skipSpaces()
            let keyColumn = cursor.column
            let key = cursor.readWhile { isIdentifierChar($0) || $0 == "." }
            guard !key.isEmpty, let first = key.unicodeScalars.first, !isDigit(first) else {
                throw cursor.error("expected an attribute name, found \(key.isEmpty ? cursor.found : "'\(key)'")", column: keyColumn)
            }
            if attrs[key] != nil { throw cursor.error("duplicate attribute '\(key)'", column: keyColumn) }
            attributeColumns[key] = keyColumn
            cursor.skipSpaces()
            try cursor.expect("=", "after the attribute name '\(key)'")
            cursor.skipSpaces()
            attrs[key] = try parseAttributeValue(key: key)
            cursor.skipSpaces()
            if cursor.peek == "," { cursor.advance(); continue }
            if cursor.peek == "}" { cursor.advance(); return attrs }
            throw cursor.error("expected ',' or '}' in the attributes, found \(cursor.found)", column: cursor.column)
        }
    }

    mutating func parseAttributeValue(key: String) throws -> Attribute {
        let column = cursor.column
        guard let c = cursor.peek else {
            throw cursor.error("malformed attribute '\(key)': expected a value, found the end of the line", column: column)
        }
        if c == "\"" { return .string(try cursor.parseString()) }
        if c == "[" {
            cursor.advance()
            var items: [Int] = []
            cursor.skipSpaces()
            if cursor.peek == "]" { cursor.advance(); return .ints(items) }
            while true {
                cursor.skipSpaces()
                let itemColumn = cursor.column
                guard case .int(let n) = try cursor.parseNumber(what: "attribute '\(key)'") else {
                    throw cursor.error("malformed attribute '\(key)': list elements must be integers", column: itemColumn)
                }
                guard n.magnitude <= UInt(maxElements) else {
                    throw cursor.error("malformed attribute '\(key)': \(n) is out of range", column: itemColumn)
                }
                items.append(n)
                cursor.skipSpaces()
                if cursor.peek == "," { cursor.advance(); continue }
                if cursor.peek == "]" { cursor.advance(); return .ints(items) }
                throw cursor.error("malformed attribute '\(key)': expected ',' or ']' in the list, found \(cursor.found)", column: cursor.column)
            }
        }
        if c == "-" || isDigit(c) { return try cursor.parseNumber(what: "attribute '\(key)'") }
        let word = cursor.readWhile(isIdentifierChar)
        switch word {
        case "true": return .bool(true)
        case "false": return .bool(false)
        case "nan": return .float(.nan)
        case "inf": return .float(.infinity)
        case "shape":
            guard cursor.peek == "[" else {
                throw cursor.error("malformed attribute '\(key)': expected '[' after 'shape'", column: cursor.column)
            }
            return .shape(try parseShape(allowHole: true))
        default:
            let shown = word.isEmpty ? cursor.found : "'\(word)'"
            throw cursor.error("malformed attribute '\(key)': expected a number, string, list, true/false or shape[...], found \(shown)", column: column)
        }
    }

    mutating func parseType() throws -> TensorType {
        let column = cursor.column
        let word = cursor.readWhile(isIdentifierChar)
        guard !word.isEmpty else { throw cursor.error("bad type: expected an element type (f32 or i64), found \(cursor.found)", column: column) }
        guard let dtype = DType(rawValue: word) else {
            throw cursor.error("bad type: unknown element type '\(word)' (expected f32 or i64)", column: column)
        }
        guard cursor.peek == "[" else { throw cursor.error("bad type: expected '[' after '\(word)', found \(cursor.found)", column: cursor.column) }
        return TensorType(dtype, try parseShape(allowHole: false))
    }

    /// `[d, ...]` with numbers and symbols; `-1` only in reshape targets.
    mutating func parseShape(allowHole: Bool) throws -> Shape {
        let what = allowHole ? "malformed shape" : "bad type"
        try cursor.expect("[", "to open the dimensions")
        var dims: [Dim] = []
        var elements = 1
        cursor.skipSpaces()
        if cursor.peek == "]" { cursor.advance(); return Shape(dims) }
        while true {
            cursor.skipSpaces()
            let column = cursor.column
            guard let c = cursor.peek else { throw cursor.error("\(what): expected a dimension, found the end of the line", column: column) }
            if isIdentifierStart(c) {
                dims.append(.symbol(cursor.readWhile(isIdentifierChar)))
            } else if c == "-" || isDigit(c) {
                guard case .int(let n) = try cursor.parseNumber(what: "dimension") else {
                    throw cursor.error("\(what): dimensions must be integers or symbols", column: column)
                }
                // As in the DSL, every dimension is positive: a zero-size tensor is almost
                // certainly a mistake in a hand-edited file, and no kernel needs to handle it.
                guard n > 0 || (allowHole && n == -1) else {
                    throw cursor.error("\(what): invalid dimension \(n)\(n == 0 ? " (dimensions must be positive)" : "")", column: column)
                }
                let (product, overflow) = elements.multipliedReportingOverflow(by: max(n, 1))
                guard !overflow, product <= maxElements else {
                    throw cursor.error("\(what): the shape holds too many elements (more than \(maxElements))", column: column)
                }
                elements = product
                dims.append(.known(n))
            } else {
                throw cursor.error("\(what): expected a dimension (a number or a symbol), found \(cursor.found)", column: column)
            }
            cursor.skipSpaces()
            if cursor.peek == "," { cursor.advance(); continue }
            if cursor.peek == "]" { cursor.advance(); return Shape(dims) }
            throw cursor.error("\(what): expected ',' or ']' in the dimensions, found \(cursor.found)", column: cursor.column)
        }
    }

    /// `("file":line:col)` after `loc`.
    mutating func parseLocation() throws -> SourceLocation {
        try cursor.expect("(", "after 'loc'")
        guard cursor.peek == "\"" else { throw cursor.error("expected a quoted file name in loc(...), found \(cursor.found)", column: cursor.column) }
        let file = try cursor.parseString()
        try cursor.expect(":", "after the file name in loc(...)")
        let lineColumn = cursor.column
        guard case .int(let line) = try cursor.parseNumber(what: "location line"), line >= 0 else {
            throw cursor.error("expected a line number in loc(...)", column: lineColumn)
        }
        try cursor.expect(":", "after the line number in loc(...)")
        let colColumn = cursor.column
        guard case .int(let col) = try cursor.parseNumber(what: "location column"), col >= 0 else {
            throw cursor.error("expected a column number in loc(...)", column: colColumn)
        }
        try cursor.expect(")", "to close loc(...)")
        return SourceLocation(file: file, line: line, column: col)
    }

    func describe(_ a: Arity) -> String {
        func inputs(_ n: Int) -> String { n == 1 ? "1 input" : "\(n) inputs" }
        switch a {
        case .exactly(let n): return "exactly \(inputs(n))"
        case .between(let lo, let hi): return "\(lo) to \(inputs(hi))"
        case .atLeast(let n): return "at least \(inputs(n))"
        }
    }
}

/// A position in one line of IR text.
private struct LineCursor {
    let text: [Unicode.Scalar]
    let line: Int
    let file: String
    var pos = 0

    init(text: [Unicode.Scalar], line: Int, file: String) { self.text = text; self.line = line; self.file = file }

    var peek: Unicode.Scalar? { pos < text.count ? text[pos] : nil }
    var atEnd: Bool { pos >= text.count }
    /// 1-based column of the next scalar.
    var column: Int { pos + 1 }

    /// How the next token reads in a message.
    var found: String {
        guard let c = peek else { return "the end of the line" }
        return "'\(c)'"
    }

    mutating func advance(by n: Int = 1) { pos = min(pos + n, text.count) }

    /// Skips blanks, and a `//` comment to the end of the line.
    mutating func skipSpaces() {
        while let c = peek, c == " " || c == "\t" { pos += 1 }
        if peek == "/", pos + 1 < text.count, text[pos + 1] == "/" { pos = text.count }
    }

    func startsWith(_ word: String) -> Bool {
        var i = pos
        for s in word.unicodeScalars {
            guard i < text.count, text[i] == s else { return false }
            i += 1
        }
        return true
    }

    mutating func readWhile(_ accept: (Unicode.Scalar) -> Bool) -> String {
        var s = String.UnicodeScalarView()
        while let c = peek, accept(c) { s.append(c); pos += 1 }
        return String(s)
    }

    func error(_ message: String, column: Int) -> Diagnostic {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: text)
        return Diagnostic(message, at: SourceLocation(file: file, line: line, column: max(1, column)), sourceLine: String(view))
    }

    mutating func expect(_ c: Unicode.Scalar, _ context: String) throws {
        guard peek == c else { throw error("expected '\(c)' \(context), found \(found)", column: column) }
        pos += 1
    }

    mutating func expectEnd(_ context: String) throws {
        skipSpaces()
        guard atEnd else { throw error("unexpected \(found) \(context)", column: column) }
    }

    /// A quoted string with `\"`, `\\`, `\n`, `\t` escapes.
    mutating func parseString() throws -> String {
        let start = column
        try expect("\"", "to open a string")
        var s = String.UnicodeScalarView()
        while let c = peek {
            pos += 1
            switch c {
            case "\"": return String(s)
            case "\\":
                let escColumn = column - 1
                guard let e = peek else { throw error("unterminated string", column: start) }
                pos += 1
                switch e {
                case "\"": s.append("\"")
                case "\\": s.append("\\")
                case "n": s.append("\n")
                case "t": s.append("\t")
                default: throw error("unknown escape '\\\(e)' in string", column: escColumn)
                }
            default: s.append(c)
            }
        }
        throw error("unterminated string", column: start)
    }

    /// An integer, or a float when written with `.` or an exponent; `-inf` too.
    mutating func parseNumber(what: String) throws -> Attribute {
        let start = column
        var token = String.UnicodeScalarView()
        if peek == "-" { token.append("-"); pos += 1 }
        if startsWith("inf") && !token.isEmpty {
            pos += 3
            return .float(-.infinity)
        }
        var isFloat = false
        func digits(_ c: inout LineCursor, _ t: inout String.UnicodeScalarView) -> Int {
            var n = 0
            while let d = c.peek, isDigit(d) { t.append(d); c.pos += 1; n += 1 }
            return n
        }
        guard digits(&self, &token) > 0 else { throw error("malformed \(what): expected a number, found \(found)", column: start) }
        if peek == "." {
            isFloat = true; token.append("."); pos += 1
            guard digits(&self, &token) > 0 else { throw error("malformed \(what): expected digits after '.'", column: column) }
        }
        if peek == "e" || peek == "E" {
            isFloat = true; token.append("e"); pos += 1
            if let sign = peek, sign == "+" || sign == "-" { token.append(sign); pos += 1 }
            guard digits(&self, &token) > 0 else { throw error("malformed \(what): expected digits in the exponent", column: column) }
        }
        if let c = peek, isIdentifierChar(c) || c == "." {
            throw error("malformed \(what): unexpected '\(c)' in a number", column: column)
        }
        let s = String(token)
        if isFloat {
            guard let d = Double(s) else { throw error("malformed \(what): '\(s)' is not a number", column: start) }
            // 1e400 reads as infinity: say so here rather than let a weight start infinite.
            guard d.isFinite else { throw error("malformed \(what): \(s) is out of range for a 64-bit float", column: start) }
            return .float(d)
        }
        guard let n = Int(s) else { throw error("malformed \(what): \(s) does not fit in a 64-bit integer", column: start) }
        return .int(n)
    }
}

private func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
private func isIdentifierStart(_ c: Unicode.Scalar) -> Bool { (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") || c == "_" }
private func isIdentifierChar(_ c: Unicode.Scalar) -> Bool { isIdentifierStart(c) || isDigit(c) }
private func isValueNameChar(_ c: Unicode.Scalar) -> Bool { isIdentifierChar(c) || c == "." }
