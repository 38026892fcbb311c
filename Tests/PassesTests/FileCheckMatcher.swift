import Foundation

extension FileCheck {
    /// Runs directives over the output's lines. Positions are (line, UTF-16 column), as
    /// NSRegularExpression counts them.
    struct Matcher {
        let lines: [String]

        struct Position: Comparable {
            var line: Int
            var column: Int
            static func < (a: Position, b: Position) -> Bool { (a.line, a.column) < (b.line, b.column) }
        }

        struct Match {
            let start: Position
            let end: Position
            let captures: [String: String]
        }

        var start: Position { Position(line: 0, column: 0) }
        var end: Position { Position(line: lines.count - 1, column: lines[lines.count - 1].utf16.count) }

        /// The first match of `pattern` that starts at or after `from` and ends at or before `to`.
        func firstMatch(_ pattern: Compiled, from: Position, to: Position) -> Match? {
            guard from <= to else { return nil }
            for l in from.line...to.line {
                let text = lines[l]
                let low = l == from.line ? from.column : 0
                let high = l == to.line ? min(to.column, text.utf16.count) : text.utf16.count
                guard low <= high,
                      let m = pattern.regex.firstMatch(in: text, options: [.withTransparentBounds, .withoutAnchoringBounds],
                                                       range: NSRange(location: low, length: high - low))
                else { continue }
                var captures: [String: String] = [:]
                for (name, group) in pattern.definitions {
                    captures[name] = Range(m.range(at: group), in: text).map { String(text[$0]) } ?? ""
                }
                return Match(start: Position(line: l, column: m.range.location),
                             end: Position(line: l, column: m.range.location + m.range.length), captures: captures)
            }
            return nil
        }

        func failure(_ d: Directive, _ shown: String, _ reason: Failure.Reason,
                     from: Position? = nil, to: Position? = nil, previous: Int? = nil) -> Failure {
            var searched: ClosedRange<Int>?
            if let from, let to {
                // A region ending at the start of a line does not search that line.
                let last = to.column == 0 && to.line > from.line ? to.line - 1 : to.line
                searched = from.line...max(from.line, last)
            }
            return Failure(reason: reason, checkLine: d.line, directive: d.text, pattern: shown,
                           searched: searched, previousLine: previous, lines: lines)
        }

        func written(_ d: Directive) -> String {
            d.pieces.map { (piece: Piece) -> String in
                switch piece {
                case .literal(let t): t
                case .regex(let r): "{{\(r)}}"
                case .define(let n, let r): "[[\(n):\(r)]]"
                case .use(let n): "[[\(n)]]"
                }
            }.joined()
        }

        /// Matches the labels, then each block's directives between its labels.
        func run(_ directives: [Directive]) -> Failure? {
            var labels: [Match] = []
            var position = start
            for d in directives where d.kind == .label {
                let pattern: Compiled
                switch compile(d.pieces, [:]) {
                case .success(let c): pattern = c
                case .failure(let reason): return failure(d, written(d), reason)
                }
                guard let m = firstMatch(pattern, from: position, to: end) else {
                    return failure(d, pattern.shown, .notFound, from: position, to: end, previous: labels.last?.start.line)
                }
                labels.append(m)
                position = m.end
            }
            var variables: [String: String] = [:]
            var block: [Directive] = []
            var blockStart = start
            var previous: Int?
            for d in directives {
                guard d.kind == .label else { block.append(d); continue }
                let label = labels.removeFirst()
                if let f = check(block, from: blockStart, to: label.start, previous: previous, variables: &variables) { return f }
                block = []
                blockStart = label.end
                previous = label.start.line
                variables = variables.filter { $0.key.hasPrefix("$") }
            }
            return check(block, from: blockStart, to: end, previous: previous, variables: &variables)
        }

        /// The directives of one block, which must match from `from` up to `to`; `previous` is
        /// the line of the label that opens the block.
        func check(_ directives: [Directive], from: Position, to: Position, previous: Int?,
                   variables: inout [String: String]) -> Failure? {
            var position = from
            var previousLine = previous
            var excluded: [(Directive, Compiled)] = []
            /// The first excluded pattern found from `position` up to `limit`.
            func excludedMatch(upTo limit: Position) -> Failure? {
                for (d, pattern) in excluded {
                    if let hit = firstMatch(pattern, from: position, to: limit) {
                        return failure(d, pattern.shown, .excludedFound(line: hit.start.line), from: position, to: limit, previous: previousLine)
                    }
                }
                return nil
            }
            for d in directives {
                let pattern: Compiled
                switch compile(d.pieces, variables) {
                case .success(let c): pattern = c
                case .failure(let reason): return failure(d, written(d), reason)
                }
                if d.kind == .not {
                    excluded.append((d, pattern))
                    continue
                }
                if d.kind == .next || d.kind == .same, previousLine == nil {
                    return failure(d, pattern.shown, .noPreviousMatch)
                }
                guard let m = firstMatch(pattern, from: position, to: to) else {
                    return failure(d, pattern.shown, .notFound, from: position, to: to, previous: previousLine)
                }
                if d.kind == .next, let p = previousLine, m.start.line != p + 1 {
                    return failure(d, pattern.shown, .notOnNextLine(found: m.start.line), from: position, to: to, previous: p)
                }
                if d.kind == .same, let p = previousLine, m.start.line != p {
                    return failure(d, pattern.shown, .notOnSameLine(found: m.start.line), from: position, to: to, previous: p)
                }
                if let f = excludedMatch(upTo: m.start) { return f }
                excluded = []
                variables.merge(m.captures) { $1 }
                position = m.end
                previousLine = m.end.line
            }
            return excludedMatch(upTo: to)
        }
    }
}
