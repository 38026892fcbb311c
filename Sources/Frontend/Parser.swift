/// The graphc DSL: a strict subset of Swift syntax (every .swiftgraph file passes
/// `swiftc -parse`) that reads like PyTorch and lowers to a typed `Graph`.
///
/// Design
/// ------
/// * A file is top-level Swift code run once, at compile time, by the lowering. `let`/`var`
///   bind compile-time values: Int, Double, Bool, String, tensors, modules, tuples and arrays.
///   Loops (`for t in 0..<n`) unroll and `if` picks a branch; only tensor operations become
///   graph nodes. The builtin `mode` is `.train` or `.infer` (from `FrontendOptions`), so one
///   file can describe a teacher-forced training graph and a greedy decoding graph.
/// * Layers are values made by calling a constructor (`Linear(600)`, `Conv2d(16, kernel: 3)`)
///   and applied by calling them (`fc(x)`). Input sizes are inferred from the first call, so
///   parameters are created then; later calls share them (one set of weights for an unrolled
///   loop).
/// * Names follow PyTorch's state_dict: a module bound with `let name = ...` is called
///   `name` converted to snake_case (`decodeStep` -> `decode_step`); `Sequential` children
///   are `0, 1, 2, ...`; parameters add `.weight`, `.bias`, `.weight_ih`, `.running_mean`...
/// * User-defined modules are `func`s returning `Module`: the `let` layers declared in the
///   body become the module's named children, and the body ends with
///   `return Module { x in ... }`, the forward function:
///
///       func BasicBlock(_ planes: Int, stride: Int = 1) -> Module {
///           let conv1 = Conv2d(planes, kernel: 3, stride: stride, padding: 1, bias: false)
///           let bn1 = BatchNorm2d()
///           ...
///           return Module { x in relu(bn2(conv2(relu(bn1(conv1(x))))) + x) }
///       }
///
///   A `func` returning anything else is a plain helper: its layers belong to the caller.
///   Because sizes are inferred, a layer that is never called has no parameters: ResNet's
///   block declares `downsample` and calls it only when `stride != 1`.
/// * Layers made inside a loop body are new each iteration (`layer`, `layer_1`, ...); layers
///   declared outside are shared. In mode `.infer`, `Dropout` is the identity.
/// * Closures are allowed only as `Sequential { layer; layer ... }` and `Module { x in ... }`.
///   Swift declarations the DSL has no use for (class, struct, enum, protocol, while, switch,
///   try, generics, optionals, ...) are rejected with "`X` is not part of the graphc DSL".
///
/// The parser is recursive descent with a depth guard, so no input can overflow the stack.
struct Parser {
    private var tokens: [Token]
    private var p = 0
    private var depth = 0
    static let maxDepth = 100
    /// Operators and postfix links (calls, members, subscripts) in the current statement.
    /// Chains like `1 + 1 + ...` or `x.f().f()...` nest to the left without recursion while
    /// parsing, but a tree tens of thousands deep would overflow the stack when freed.
    private var links = 0
    static let maxLinks = 10_000

    init(tokens: [Token]) { self.tokens = tokens }

    static func parse(_ source: String) throws -> [Stmt] {
        var lexer = Lexer(source)
        var parser = Parser(tokens: try lexer.tokenize())
        return try parser.program()
    }

    // MARK: tokens

    private var tok: Token { tokens[p] }
    private func peekToken(_ k: Int) -> Token { tokens[min(p + k, tokens.count - 1)] }
    private var pos: Pos { Pos(line: tok.line, column: tok.column) }
    private mutating func advance() { if p < tokens.count - 1 { p += 1 } }

    private func describe(_ t: Token) -> String {
        switch t.kind {
        case .identifier(let s): return "`\(s)`"
        case .integer(let v): return "`\(v)`"
        case .float(let v): return "`\(v)`"
        case .string: return "a string literal"
        case .symbol(let s): return "`\(s)`"
        case .end: return "end of file"
        }
    }

    private mutating func expect(_ s: String, _ context: String) throws {
        guard tok.isSymbol(s) else { throw DSLError("expected `\(s)` \(context), found \(describe(tok))", at: tok) }
        advance()
    }

    private mutating func identifier(_ context: String) throws -> String {
        guard let name = tok.identifier else { throw DSLError("expected a name \(context), found \(describe(tok))", at: tok) }
        if Parser.unsupported.contains(name) { throw unsupported(name) }
        if Parser.reserved.contains(name) { throw DSLError("`\(name)` is a keyword and cannot be used as a name", at: tok) }
        advance()
        return name
    }

    private mutating func enter() throws {
        depth += 1
        if depth > Parser.maxDepth {
            throw DSLError("program is nested too deeply (more than \(Parser.maxDepth) levels)", at: tok)
        }
    }
    private mutating func leave() { depth -= 1 }

    private mutating func link() throws {
        links += 1
        if links > Parser.maxLinks {
            throw DSLError("statement is too long (more than \(Parser.maxLinks) operators and calls); split it with `let`", at: tok)
        }
    }

    /// Swift keywords and declarations that the DSL rejects by name.
    static let unsupported: Set<String> = [
        "class", "struct", "protocol", "enum", "extension", "actor", "while", "repeat", "switch", "case",
        "guard", "defer", "import", "typealias", "do", "try", "catch", "throw", "throws", "rethrows",
        "break", "continue", "fallthrough", "init", "deinit", "subscript", "operator", "precedencegroup",
        "associatedtype", "public", "private", "fileprivate", "internal", "open", "static", "final",
        "lazy", "weak", "unowned", "mutating", "nonmutating", "override", "convenience", "required",
        "async", "await", "inout", "some", "any", "self", "Self", "super", "as", "is", "nil", "where", "macro",
    ]
    static let operatorSymbols: Set<Character> = ["+", "-", "*", "/", "%", "<", ">", "=", "!", "&", "|", "^", "~", "?", "."]
    static let reserved: Set<String> = ["let", "var", "func", "for", "in", "if", "else", "return", "true", "false"]

    private func unsupported(_ name: String) -> DSLError {
        let hint: String
        switch name {
        case "nil": hint = " (there are no optionals)"
        case "while", "repeat": hint = " (use `for i in 0..<n`, which unrolls)"
        case "class", "struct": hint = " (write a `func ... -> Module` returning `Module { x in ... }`)"
        default: hint = ""
        }
        return DSLError("`\(name)` is not part of the graphc DSL\(hint)", at: tok)
    }

    // MARK: statements

    mutating func program() throws -> [Stmt] {
        let body = try statements(until: nil)
        guard case .end = tok.kind else { throw DSLError("unexpected \(describe(tok))", at: tok) }
        return body
    }

    /// Statements up to `}` (not consumed) or the end of file.
    private mutating func statements(until close: String?) throws -> [Stmt] {
        var out: [Stmt] = []
        while true {
            while tok.isSymbol(";") { advance() }
            if case .end = tok.kind {
                if close != nil { throw DSLError("expected `}` before end of file", at: tok) }
                return out
            }
            if let c = close, tok.isSymbol(c) { return out }
            if tok.isSymbol("}") { throw DSLError("unexpected `}`: no block is open here", at: tok) }
            out.append(try statement())
            // A statement ends at `;`, a line break, `}` or the end of the file.
            if !(tok.isSymbol(";") || tok.startsLine || tok.isSymbol("}")) {
                switch tok.kind {
                case .end: continue
                case .identifier(let w) where Parser.unsupported.contains(w): throw unsupported(w)
                case .symbol(let sym) where Parser.operatorSymbols.contains(sym.first ?? " "):
                    throw DSLError("operator `\(sym)` is not part of the graphc DSL here", at: tok)
                case .symbol(let sym):
                    throw DSLError("unexpected `\(sym)`", at: tok)
                default:
                    throw DSLError("consecutive statements on a line must be separated by `;`", at: tok)
                }
            }
        }
    }

    private mutating func block(_ context: String) throws -> [Stmt] {
        try expect("{", context)
        try enter()
        defer { leave() }
        let body = try statements(until: "}")
        try expect("}", "to close the block")
        return body
    }

    private mutating func statement() throws -> Stmt {
        links = 0
        let start = pos
        if tok.isSymbol("@") { throw DSLError("attributes (`@...`) are not part of the graphc DSL", at: tok) }
        if tok.isSymbol("#") { throw DSLError("compiler directives (`#...`) are not part of the graphc DSL", at: tok) }
        if let word = tok.identifier {
            if Parser.unsupported.contains(word) { throw unsupported(word) }
            switch word {
            case "let", "var":
                advance()
                return Stmt(kind: .declaration(isLet: word == "let", try bindings()), pos: start)
            case "func": return Stmt(kind: .function(try function()), pos: start)
            case "for": return try forLoop()
            case "if": return try ifStatement()
            case "return":
                advance()
                if tok.startsLine || tok.isSymbol("}") || tok.isSymbol(";") { return Stmt(kind: .returnValue(nil), pos: start) }
                if case .end = tok.kind { return Stmt(kind: .returnValue(nil), pos: start) }
                return Stmt(kind: .returnValue(try expression()), pos: start)
            case "else": throw DSLError("`else` without a matching `if`", at: tok)
            default: break
            }
        }
        let target = try expression()
        for op in ["=", "+=", "-=", "*=", "/=", "%="] where tok.isSymbol(op) {
            advance()
            let value = try expression()
            return Stmt(kind: .assignment(target, op == "=" ? "" : String(op.dropLast()), value), pos: start)
        }
        return Stmt(kind: .expression(target), pos: start)
    }

    private mutating func bindings() throws -> [Binding] {
        var out: [Binding] = []
        repeat {
            if !out.isEmpty { advance() }
            let pattern = try self.pattern()
            var type: TypeName?
            if tok.isSymbol(":") { advance(); type = try typeName() }
            var value: Expr?
            if tok.isSymbol("=") { advance(); value = try expression() }
            out.append(Binding(pattern: pattern, type: type, value: value))
        } while tok.isSymbol(",")
        return out
    }

    private mutating func pattern() throws -> Pattern {
        let start = pos
        if tok.isSymbol("(") {
            try enter(); defer { leave() }
            advance()
            var items: [Pattern] = []
            while !tok.isSymbol(")") {
                items.append(try pattern())
                if tok.isSymbol(",") { advance() } else { break }
            }
            try expect(")", "to close the tuple pattern")
            return .tuple(items, start)
        }
        if tok.identifier == "_" { advance(); return .wildcard(start) }
        return .name(try identifier("to bind"), start)
    }

    private mutating func typeName() throws -> TypeName {
        try enter(); defer { leave() }
        let t: TypeName
        if tok.isSymbol("[") {
            advance()
            let inner = try typeName()
            if tok.isSymbol(":") { throw DSLError("dictionary types are not part of the graphc DSL", at: tok) }
            try expect("]", "to close the array type")
            t = .array(inner)
        } else if tok.isSymbol("(") {
            advance()
            var items: [TypeName] = []
            while !tok.isSymbol(")") {
                items.append(try typeName())
                if tok.isSymbol(",") { advance() } else { break }
            }
            try expect(")", "to close the tuple type")
            t = .tuple(items)
        } else {
            t = .named(try identifier("of a type"))
        }
        if tok.isSymbol("<") { throw DSLError("generic types are not part of the graphc DSL", at: tok) }
        if tok.isSymbol("?") || tok.isSymbol("!") { throw DSLError("optional types are not part of the graphc DSL (there are no optionals)", at: tok) }
        return t
    }

    private mutating func function() throws -> FuncDecl {
        let start = pos
        advance()
        let name = try identifier("after `func`")
        if tok.isSymbol("<") { throw DSLError("generic functions are not part of the graphc DSL", at: tok) }
        try expect("(", "to open the parameter list of `\(name)`")
        var params: [FuncParam] = []
        while !tok.isSymbol(")") {
            let ppos = pos
            var label: String?
            var pname: String
            if tok.identifier == "_" { advance(); label = nil; pname = try identifier("for a parameter") }
            else {
                let first = try identifier("for a parameter")
                if tok.identifier != nil { label = first; pname = try identifier("for a parameter") }
                else { label = first; pname = first }
            }
            try expect(":", "after parameter `\(pname)` (parameters need a type)")
            if tok.identifier == "inout" { throw unsupported("inout") }
            let type = try typeName()
            if tok.isSymbol("...") { throw DSLError("variadic parameters are not part of the graphc DSL", at: tok) }
            var def: Expr?
            if tok.isSymbol("=") { advance(); def = try expression() }
            params.append(FuncParam(label: label, name: pname, type: type, defaultValue: def, pos: ppos))
            if tok.isSymbol(",") { advance() } else { break }
        }
        try expect(")", "to close the parameter list of `\(name)`")
        if let w = tok.identifier, Parser.unsupported.contains(w) { throw unsupported(w) }
        var ret: TypeName?
        if tok.isSymbol("->") { advance(); ret = try typeName() }
        let body = try block("to open the body of `\(name)`")
        return FuncDecl(name: name, params: params, returnType: ret, body: body, pos: start)
    }

    private mutating func forLoop() throws -> Stmt {
        let start = pos
        advance()
        if tok.identifier == "case" { throw unsupported("case") }
        let pat = try pattern()
        guard tok.identifier == "in" else { throw DSLError("expected `in` after the loop variable, found \(describe(tok))", at: tok) }
        advance()
        let seq = try expression(trailingClosures: false)
        if tok.identifier == "where" { throw unsupported("where") }
        let body = try block("to open the loop body")
        return Stmt(kind: .forIn(pat, seq, body), pos: start)
    }

    private mutating func ifStatement() throws -> Stmt {
        let start = pos
        advance()
        if let w = tok.identifier, w == "let" || w == "var" || w == "case" {
            throw DSLError("`if \(w)` is not part of the graphc DSL (there are no optionals)", at: tok)
        }
        let cond = try expression(trailingClosures: false)
        if tok.isSymbol(",") { throw DSLError("condition lists are not part of the graphc DSL; use `&&`", at: tok) }
        let then = try block("after the `if` condition")
        var otherwise: [Stmt]?
        if tok.identifier == "else" {
            advance()
            if tok.identifier == "if" {
                try enter(); defer { leave() }
                otherwise = [try ifStatement()]
            } else {
                otherwise = try block("after `else`")
            }
        }
        return Stmt(kind: .ifElse(cond, then, otherwise), pos: start)
    }

    // MARK: expressions

    private var allowTrailing = true

    mutating func expression(trailingClosures: Bool = true) throws -> Expr {
        let saved = allowTrailing
        allowTrailing = trailingClosures
        defer { allowTrailing = saved }
        try enter(); defer { leave() }
        return try ternary()
    }

    private mutating func ternary() throws -> Expr {
        let cond = try binary(0)
        guard tok.isSymbol("?"), !tok.boundLeft else { return cond }
        advance()
        try enter(); defer { leave() }
        let a = try ternary()
        try expect(":", "in the conditional expression `c ? a : b`")
        let b = try ternary()
        return Expr(.ternary(cond, a, b), cond.pos)
    }

    private static let levels: [[String]] = [["||"], ["&&"], ["==", "!=", "<", "<=", ">", ">="], ["...", "..<"], ["+", "-"], ["*", "/", "%"]]

    private func binaryOperator(at level: Int) -> String? {
        guard case .symbol(let s) = tok.kind, Parser.levels[level].contains(s) else { return nil }
        // Swift: whitespace on both sides or neither makes an operator binary.
        if tok.boundLeft != tok.boundRight { return nil }
        if tok.startsLine && tok.boundRight { return nil }
        return s
    }

    private mutating func binary(_ level: Int) throws -> Expr {
        if level == Parser.levels.count { return try unary() }
        var lhs = try binary(level + 1)
        while let op = binaryOperator(at: level) {
            let opTok = tok
            try link()
            advance()
            let rhs = try binary(level + 1)
            if level == 2 || level == 3, case .binary(let prev, _, _) = lhs.kind, Parser.levels[level].contains(prev) {
                throw DSLError("operator `\(op)` cannot be chained; add parentheses", at: opTok)
            }
            lhs = Expr(.binary(op, lhs, rhs), lhs.pos)
        }
        return lhs
    }

    private mutating func unary() throws -> Expr {
        let start = pos
        if case .symbol(let s) = tok.kind, ["-", "+", "!", "..<", "..."].contains(s) {
            guard tok.boundRight else { throw DSLError("expected an expression after `\(s)`", at: tok) }
            advance()
            try enter(); defer { leave() }
            let operand = try unary()
            return Expr(.unary(s, operand), start)
        }
        if case .symbol(let s) = tok.kind, ["&", "~", "*", "/", "%", "<", ">", "=", "|", "^"].contains(s) {
            throw DSLError("expected an expression, found `\(s)`", at: tok)
        }
        return try postfix(try primary())
    }

    private mutating func postfix(_ base: Expr) throws -> Expr {
        var e = base
        while true {
            if tok.isSymbol("("), !tok.startsLine {
                let args = try arguments(close: ")")
                var closure: Closure?
                if allowTrailing, tok.isSymbol("{"), !tok.startsLine { closure = try trailingClosure(for: e) }
                try link(); e = Expr(.call(e, args, closure), e.pos)
            } else if tok.isSymbol("{"), !tok.startsLine, allowTrailing {
                let closure = try trailingClosure(for: e)
                try link(); e = Expr(.call(e, [], closure), e.pos)
            } else if tok.isSymbol("["), !tok.startsLine {
                try link(); e = Expr(.subscriptAccess(e, try arguments(close: "]")), e.pos)
            } else if tok.isSymbol("."), tok.boundLeft {
                advance()
                if case .integer(let n) = tok.kind { advance(); try link(); e = Expr(.member(e, String(n)), e.pos); continue }
                let name = try identifier("after `.`")
                try link(); e = Expr(.member(e, name), e.pos)
            } else if tok.isSymbol("..."), tok.boundLeft, !tok.boundRight {
                advance()
                try link(); e = Expr(.postfixRange(e), e.pos)
            } else if tok.isSymbol("!"), tok.boundLeft {
                throw DSLError("force unwrapping (`!`) is not part of the graphc DSL (there are no optionals)", at: tok)
            } else if tok.isSymbol("?"), tok.boundLeft {
                throw DSLError("optional chaining (`?`) is not part of the graphc DSL (there are no optionals)", at: tok)
            } else {
                return e
            }
        }
    }

    private mutating func arguments(close: String) throws -> [Argument] {
        try enter(); defer { leave() }
        advance()
        var args: [Argument] = []
        while !tok.isSymbol(close) {
            let apos = pos
            var label: String?
            // Swift allows keywords (`init:`, `in:`) as argument labels.
            if let name = tok.identifier, peekToken(1).isSymbol(":") {
                label = name
                advance(); advance()
            }
            args.append(Argument(label: label, value: try expression(), pos: apos))
            if tok.isSymbol(",") { advance() } else { break }
        }
        try expect(close, close == ")" ? "to close the argument list" : "to close the subscript")
        return args
    }

    private static let closureHosts: Set<String> = ["Sequential", "Module"]

    private mutating func trailingClosure(for callee: Expr) throws -> Closure {
        guard case .identifier(let name) = callee.kind, Parser.closureHosts.contains(name) else {
            throw DSLError("closures are only allowed as `Sequential { ... }` and `Module { x in ... }`", at: tok)
        }
        return try closure()
    }

    private mutating func closure() throws -> Closure {
        let start = pos
        try enter(); defer { leave() }
        advance()
        // `{ x in`, `{ x, h in`, `{ (x, h) in` or `{ (x: Tensor) -> Tensor in`; anything else
        // is a body without parameters.
        let save = p
        var params: [(String, TypeName?)] = []
        if let ps = try? closureParameters() { params = ps } else { p = save }
        if tok.isSymbol("$") { throw DSLError("anonymous closure arguments (`$0`) are not part of the graphc DSL; name them: `{ x in ... }`", at: tok) }
        let body = try statements(until: "}")
        try expect("}", "to close the closure")
        return Closure(params: params.map(\.0), types: params.map(\.1), body: body, pos: start)
    }

    private mutating func closureParameters() throws -> [(String, TypeName?)] {
        var out: [(String, TypeName?)] = []
        let paren = tok.isSymbol("(")
        if paren { advance() }
        while true {
            guard let n = tok.identifier, n == "_" || !(Parser.reserved.contains(n) || Parser.unsupported.contains(n)) else {
                throw DSLError("not a closure parameter", at: tok)
            }
            advance()
            var type: TypeName?
            if paren && tok.isSymbol(":") { advance(); type = try typeName() }
            out.append((n, type))
            if tok.isSymbol(",") { advance() } else { break }
        }
        if paren {
            try expect(")", "to close the closure parameters")
            if tok.isSymbol("->") { advance(); _ = try typeName() }
        }
        guard tok.identifier == "in" else { throw DSLError("not a closure parameter list", at: tok) }
        advance()
        return out
    }

    private mutating func primary() throws -> Expr {
        let start = pos
        let t = tok
        switch t.kind {
        case .integer(let v): advance(); return Expr(.integer(v), start)
        case .float(let v): advance(); return Expr(.float(v), start)
        case .string(let s): advance(); return Expr(.string(s), start)
        case .identifier(let name):
            if name == "true" || name == "false" { advance(); return Expr(.bool(name == "true"), start) }
            if Parser.unsupported.contains(name) { throw unsupported(name) }
            if Parser.reserved.contains(name) { throw DSLError("expected an expression, found keyword `\(name)`", at: t) }
            advance()
            return Expr(.identifier(name), start)
        case .symbol("."):
            advance()
            let name = try identifier("after `.`")
            return Expr(.implicitMember(name), start)
        case .symbol("("):
            try enter(); defer { leave() }
            advance()
            var items: [Expr] = []
            var labelled = false
            while !tok.isSymbol(")") {
                if tok.identifier != nil, peekToken(1).isSymbol(":") { labelled = true }
                items.append(try expression())
                if tok.isSymbol(",") { advance() } else { break }
            }
            if labelled { throw DSLError("labelled tuples are not part of the graphc DSL", at: t) }
            try expect(")", "to close the parenthesis")
            return items.count == 1 ? items[0] : Expr(.tuple(items), start)
        case .symbol("["):
            try enter(); defer { leave() }
            advance()
            var items: [Expr] = []
            while !tok.isSymbol("]") {
                items.append(try expression())
                if tok.isSymbol(":") { throw DSLError("dictionary literals are not part of the graphc DSL", at: tok) }
                if tok.isSymbol(",") { advance() } else { break }
            }
            try expect("]", "to close the array literal")
            return Expr(.array(items), start)
        case .symbol("{"):
            throw DSLError("closures are only allowed as `Sequential { ... }` and `Module { x in ... }`", at: t)
        case .symbol("$"):
            throw DSLError("anonymous closure arguments (`$0`) are not part of the graphc DSL", at: t)
        case .symbol("@"):
            throw DSLError("attributes (`@...`) are not part of the graphc DSL", at: t)
        case .symbol("#"):
            throw DSLError("compiler directives (`#...`) are not part of the graphc DSL", at: t)
        case .end:
            throw DSLError("expected an expression before end of file", at: t)
        default:
            throw DSLError("expected an expression, found \(describe(t))", at: t)
        }
    }
}
