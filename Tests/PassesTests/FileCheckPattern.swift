import Foundation

/// Reading check lines into directives, and a directive's pattern into a regex once the
/// variables it uses are known.
extension FileCheck {
    static func parse(_ checks: String) -> Result<[Directive], Failure> {
        var out: [Directive] = []
        for (index, raw) in checks.components(separatedBy: "\n").enumerated() {
            var line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("//") { line = String(line.dropFirst(2)).trimmingCharacters(in: .whitespaces) }
            guard line.hasPrefix("CHECK") else { continue }
            func bad(_ why: String) -> Result<[Directive], Failure> {
                .failure(Failure(reason: .badDirective(why), checkLine: index + 1, directive: line))
            }
            let name = String(line.prefix { $0 != ":" && !$0.isWhitespace })
            guard let kind = Kind(rawValue: name), line.dropFirst(name.count).first == ":" else {
                return bad("unknown directive '\(name)'; known: " + Kind.allCases.map { $0.rawValue + ":" }.joined(separator: " "))
            }
            let pattern = line.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces)
            guard !pattern.isEmpty else { return bad("empty pattern") }
            switch pieces(pattern) {
            case .failure(let why):
                return bad(why.message)
            case .success(let pieces):
                if kind == .label, pieces.contains(where: \.isVariable) {
                    return bad("CHECK-LABEL cannot define or use variables")
                }
                out.append(Directive(kind: kind, pieces: pieces, line: index + 1, text: line))
            }
        }
        return .success(out)
    }

    struct PatternError: Error { let message: String }

    /// Splits a pattern into literal text, `{{regex}}`, `[[X:regex]]` and `[[X]]`.
    static func pieces(_ pattern: String) -> Result<[Piece], PatternError> {
        var out: [Piece] = []
        var literal = ""
        var rest = Substring(pattern)
        func flush() { if !literal.isEmpty { out.append(.literal(literal)); literal = "" } }
        while let c = rest.first {
            if rest.hasPrefix("{{") {
                guard let close = rest.dropFirst(2).range(of: "}}") else { return .failure(PatternError(message: "unclosed {{ in \(pattern)")) }
                // `{{x{2}}}`: extra braces belong to the regex, the last two close it.
                var end = close.upperBound
                while end < rest.endIndex, rest[end] == "}" { end = rest.index(after: end) }
                let regex = String(rest[rest.index(rest.startIndex, offsetBy: 2)..<rest.index(end, offsetBy: -2)])
                if let error = validate(regex) { return .failure(error) }
                flush()
                out.append(.regex(regex))
                rest = rest[end...]
            } else if rest.hasPrefix("[[") {
                guard let close = variableEnd(rest) else { return .failure(PatternError(message: "unclosed [[ in \(pattern)")) }
                let body = rest[rest.index(rest.startIndex, offsetBy: 2)..<close]
                let name = String(body.prefix { $0 != ":" })
                guard isVariableName(name) else {
                    return .failure(PatternError(message: "invalid variable name '\(name)' in \(pattern) (a name is [$]letter-or-_ then letters, digits, _; numeric [[#...]] is not supported)"))
                }
                flush()
                if body.count > name.count {
                    let regex = String(body.dropFirst(name.count + 1))
                    if let error = validate(regex) { return .failure(error) }
                    out.append(.define(name: name, regex: regex))
                } else {
                    out.append(.use(name))
                }
                rest = rest[rest.index(close, offsetBy: 2)...]
            } else {
                literal.append(c)
                rest = rest.dropFirst()
            }
        }
        flush()
        return .success(out)
    }

    /// The index of the `]]` closing the `[[` at the start of `text`; brackets of a regex
    /// class inside (`[[X:[0-9]+]]`) do not close it.
    static func variableEnd(_ text: Substring) -> String.Index? {
        var depth = 0
        var i = text.index(text.startIndex, offsetBy: 2)
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            if c == "\\" {
                i = next < text.endIndex ? text.index(after: next) : next
                continue
            }
            if c == "[" { depth += 1 }
            if c == "]" {
                if depth == 0, next < text.endIndex, text[next] == "]" { return i }
                depth = max(0, depth - 1)
            }
            i = next
        }
        return nil
    }

    static func isVariableName(_ name: String) -> Bool {
        let body = name.hasPrefix("$") ? name.dropFirst() : Substring(name)
        guard let first = body.first, first == "_" || (first.isASCII && first.isLetter) else { return false }
        return body.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }

    static func validate(_ regex: String) -> PatternError? {
        if regex.isEmpty { return PatternError(message: "empty regex") }
        do { _ = try NSRegularExpression(pattern: regex) } catch { return PatternError(message: "invalid regex \(regex)") }
        return nil
    }

    static func captureGroups(_ regex: String) -> Int {
        (try? NSRegularExpression(pattern: regex))?.numberOfCaptureGroups ?? 0
    }

    /// `text` as a regex that matches it literally.
    static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            if "\\^$.|?*+()[]{}".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// A directive's pattern as one regex, given the variables defined so far.
    struct Compiled {
        let regex: NSRegularExpression
        /// Variables the pattern defines, with their capture group.
        let definitions: [(name: String, group: Int)]
        /// The pattern with each use of an earlier variable replaced by its text.
        let shown: String
    }

    static func compile(_ pieces: [Piece], _ variables: [String: String]) -> Result<Compiled, Failure.Reason> {
        var regex = ""
        var shown = ""
        var groups = 0
        var definitions: [(name: String, group: Int)] = []
        for piece in pieces {
            switch piece {
            case .literal(let text):
                regex += escape(text)
                shown += text
            case .regex(let r):
                regex += "(?:\(r))"
                groups += captureGroups(r)
                shown += "{{\(r)}}"
            case .define(let name, let r):
                groups += 1
                definitions.removeAll { $0.name == name }
                definitions.append((name, groups))
                regex += "(\(r))"
                groups += captureGroups(r)
                shown += "[[\(name):\(r)]]"
            case .use(let name):
                if let group = definitions.first(where: { $0.name == name })?.group {
                    regex += "(?:\\\(group))"
                    shown += "[[\(name)]]"
                } else if let text = variables[name] {
                    regex += escape(text)
                    shown += text
                } else {
                    return .failure(.undefinedVariable(name))
                }
            }
        }
        do {
            return .success(Compiled(regex: try NSRegularExpression(pattern: regex), definitions: definitions, shown: shown))
        } catch {
            return .failure(.badDirective("invalid regex \(regex)"))
        }
    }
}
