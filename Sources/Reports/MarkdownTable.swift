/// A GitHub-flavoured Markdown table with columns padded to equal width, so it also reads well
/// as plain text. Cells containing `|` are escaped.
public struct MarkdownTable {
    public enum Alignment { case left, right }

    public var headers: [String]
    public var rows: [[String]]
    public var alignments: [Alignment]

    public init(headers: [String], rows: [[String]] = [], alignments: [Alignment]? = nil) {
        self.headers = headers
        self.rows = rows
        self.alignments = alignments ?? headers.map { _ in .left }
    }

    public mutating func append(_ row: [String]) { rows.append(row) }

    public func render() -> String {
        let columns = max(headers.count, rows.map(\.count).max() ?? 0)
        guard columns > 0 else { return "" }
        func cells(_ row: [String]) -> [String] {
            (0..<columns).map { $0 < row.count ? row[$0].replacingOccurrences(of: "|", with: "\\|")
                .replacingOccurrences(of: "\n", with: " ") : "" }
        }
        let head = cells(headers)
        let body = rows.map(cells)
        let widths = (0..<columns).map { c in max(3, ([head] + body).map { $0[c].count }.max() ?? 0) }
        func align(_ c: Int) -> Alignment { c < alignments.count ? alignments[c] : .left }
        func line(_ row: [String]) -> String {
            let padded = row.enumerated().map { c, text -> String in
                let pad = String(repeating: " ", count: widths[c] - text.count)
                return align(c) == .right ? pad + text : text + pad
            }
            return "| " + padded.joined(separator: " | ") + " |"
        }
        let rule = "|" + (0..<columns).map { c in
            align(c) == .right ? " " + String(repeating: "-", count: widths[c] - 1) + ": " : " " + String(repeating: "-", count: widths[c]) + " "
        }.joined(separator: "|") + "|"
        return ([line(head), rule] + body.map(line)).joined(separator: "\n") + "\n"
    }
}
