// Turns .swiftgraph text into tokens. Swift decides whether `-` is binary or prefix from the
// whitespace around it, and statements end at line breaks, so tokens remember both.

enum TokenKind: Equatable {
    case identifier(String)
    case integer(Int)
    case float(Double)
    case string(String)
    /// Punctuation and operators, by their spelling: `(`, `->`, `..<`, `&&`, ...
    case symbol(String)
    case end
}

struct Token {
    var kind: TokenKind
    var line: Int
    var column: Int
    /// The token starts a new line (statement boundaries).
    var startsLine: Bool
    /// Swift's operator rule: an operator is bound on a side when no whitespace (or opening /
    /// closing bracket, comma, semicolon, colon) separates it from its neighbour.
    var boundLeft: Bool
    var boundRight: Bool

    func isSymbol(_ s: String) -> Bool { kind == .symbol(s) }
    var identifier: String? { if case .identifier(let s) = kind { return s }; return nil }
}

/// A located complaint; `Frontend` turns it into a `Diagnostic` with the source line.
struct DSLError: Error {
    var message: String
    var line: Int
    var column: Int
    var notes: [String] = []
    init(_ message: String, line: Int, column: Int, notes: [String] = []) {
        self.message = message; self.line = line; self.column = column; self.notes = notes
    }
    init(_ message: String, at t: Token) { self.init(message, line: t.line, column: t.column) }
}

struct Lexer {
    private let chars: [Character]
    private var i = 0
    private var line = 1
    private var column = 1

    init(_ source: String) { chars = Array(source) }

    private static let symbols3 = ["..<", "...", "===", "!=="]
    private static let symbols2 = ["->", "==", "!=", "<=", ">=", "&&", "||", "+=", "-=", "*=", "/=", "%="]
    private static let symbols1: Set<Character> = ["(", ")", "[", "]", "{", "}", ",", ":", ";", ".", "=",
                                                   "+", "-", "*", "/", "%", "<", ">", "!", "?", "&", "|", "^", "~", "@", "#", "$", "\\", "`"]

    mutating func tokenize() throws -> [Token] {
        var tokens: [Token] = []
        var sawNewline = true
        while true {
            sawNewline = try skipTrivia() || sawNewline
            let startLine = line, startCol = column
            guard i < chars.count else {
                tokens.append(Token(kind: .end, line: line, column: column, startsLine: true, boundLeft: false, boundRight: false))
                return tokens
            }
            let left = boundLeft()
            let kind = try next(line: startLine, column: startCol)
            tokens.append(Token(kind: kind, line: startLine, column: startCol, startsLine: sawNewline,
                                boundLeft: left, boundRight: boundRight()))
            sawNewline = false
        }
    }

    private func peek(_ k: Int = 0) -> Character? { i + k < chars.count ? chars[i + k] : nil }

    private mutating func advance() {
        if chars[i].isNewline { line += 1; column = 1 } else { column += 1 }
        i += 1
    }

    private func boundLeft() -> Bool {
        guard i > 0 else { return false }
        let c = chars[i - 1]
        return !(c.isWhitespace || "([{,;:".contains(c))
    }

    private func boundRight() -> Bool {
        guard i < chars.count else { return false }
        let c = chars[i]
        if c == "/" && (peek(1) == "/" || peek(1) == "*") { return false }
        return !(c.isWhitespace || ")]},;:".contains(c))
    }

    /// Skips spaces and comments; returns whether a line break was crossed.
    private mutating func skipTrivia() throws -> Bool {
        var newline = false
        while let c = peek() {
            if c.isNewline { newline = true; advance() }
            else if c.isWhitespace { advance() }
            else if c == "/" && peek(1) == "/" {
                while let d = peek(), !d.isNewline { advance() }
            } else if c == "/" && peek(1) == "*" {
                // Swift block comments nest.
                let l = line, col = column
                advance(); advance()
                var depth = 1
                while depth > 0 {
                    guard let d = peek() else {
                        throw DSLError("unterminated block comment: `/*` has no matching `*/`", line: l, column: col)
                    }
                    if d == "/" && peek(1) == "*" { depth += 1; advance(); advance() }
                    else if d == "*" && peek(1) == "/" { depth -= 1; advance(); advance() }
                    else { if d.isNewline { newline = true }; advance() }
                }
            } else { break }
        }
        return newline
    }

    private mutating func next(line l: Int, column col: Int) throws -> TokenKind {
        let c = chars[i]
        if c.isLetter || c == "_" {
            var s = ""
            while let d = peek(), d.isLetter || d.isNumber || d == "_" { s.append(d); advance() }
            return .identifier(s)
        }
        if c.isASCII && c.isNumber { return try number(line: l, column: col) }
        if c == "\"" { return try string(line: l, column: col) }
        for s in Lexer.symbols3 where matches(s) { for _ in 0..<3 { advance() }; return .symbol(s) }
        for s in Lexer.symbols2 where matches(s) { advance(); advance(); return .symbol(s) }
        if Lexer.symbols1.contains(c) { advance(); return .symbol(String(c)) }
        throw DSLError("unexpected character `\(c)`", line: l, column: col)
    }

    private func matches(_ s: String) -> Bool {
        var k = 0
        for ch in s { guard peek(k) == ch else { return false }; k += 1 }
        return true
    }

    private mutating func number(line l: Int, column col: Int) throws -> TokenKind {
        var text = ""
        var isFloat = false
        func digits(_ lexer: inout Lexer, into text: inout String, hex: Bool = false) {
            while let d = lexer.peek(), (hex ? d.isHexDigit : (d.isASCII && d.isNumber)) || d == "_" {
                if d != "_" { text.append(d) }
                lexer.advance()
            }
        }
        if peek() == "0", peek(1) == "x" || peek(1) == "b" || peek(1) == "o" {
            let radixChar = chars[i + 1]
            advance(); advance()
            digits(&self, into: &text, hex: true)
            let radix = radixChar == "x" ? 16 : radixChar == "b" ? 2 : 8
            if peek().map({ $0.isLetter || $0.isNumber || $0 == "." }) == true { return try badNumber(text, l, col) }
            guard !text.isEmpty, let v = Int(text, radix: radix) else {
                throw DSLError("invalid number literal `0\(radixChar)\(text)`", line: l, column: col)
            }
            return .integer(v)
        }
        digits(&self, into: &text)
        if peek() == ".", let d = peek(1), d.isASCII && d.isNumber {
            isFloat = true
            text.append("."); advance()
            digits(&self, into: &text)
        }
        if peek() == "e" || peek() == "E" {
            let save = (i, line, column)
            var exp = "e"
            advance()
            if peek() == "+" || peek() == "-" { exp.append(chars[i]); advance() }
            if let d = peek(), d.isASCII && d.isNumber {
                digits(&self, into: &exp)
                text += exp
                isFloat = true
            } else {
                (i, line, column) = save
                return try badNumber(text, l, col)
            }
        }
        if peek().map({ $0.isLetter || $0 == "_" || ($0 == "." && peek(1)?.isNumber == true) }) == true {
            return try badNumber(text, l, col)
        }
        if isFloat {
            guard let v = Double(text), v.isFinite else {
                throw DSLError("floating-point literal `\(text)` is out of range", line: l, column: col)
            }
            return .float(v)
        }
        guard let v = Int(text) else {
            throw DSLError("integer literal `\(text)` overflows a 64-bit Int", line: l, column: col)
        }
        return .integer(v)
    }

    private mutating func badNumber(_ prefix: String, _ l: Int, _ col: Int) throws -> TokenKind {
        var text = prefix
        while let d = peek(), d.isLetter || d.isNumber || d == "_" || d == "." { text.append(d); advance() }
        throw DSLError("invalid number literal `\(text)`", line: l, column: col)
    }

    private mutating func string(line l: Int, column col: Int) throws -> TokenKind {
        if matches("\"\"\"") {
            throw DSLError("multi-line string literals are not part of the graphc DSL", line: l, column: col)
        }
        advance()
        var s = ""
        while true {
            guard let c = peek(), !c.isNewline else {
                throw DSLError("unterminated string literal", line: l, column: col)
            }
            advance()
            if c == "\"" { return .string(s) }
            if c == "\\" {
                let el = line, ec = column - 1
                guard let e = peek(), !e.isNewline else { throw DSLError("unterminated string literal", line: l, column: col) }
                advance()
                switch e {
                case "n": s.append("\n")
                case "t": s.append("\t")
                case "\"": s.append("\"")
                case "\\": s.append("\\")
                case "0": s.append("\0")
                case "(": throw DSLError("string interpolation is not part of the graphc DSL", line: el, column: ec)
                default: throw DSLError("invalid escape sequence `\\\(e)` in string literal", line: el, column: ec)
                }
            } else {
                s.append(c)
            }
        }
    }
}
