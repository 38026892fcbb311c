import Foundation
import GraphIR

/// A self-contained HTML page built from blocks: every piece of text is escaped, links and
/// images are relative paths, the style is inline and there is no script, so the page opens
/// from the file system with no server and no network (scripts/check-page.sh opens it in
/// headless Chromium and checks that every image decodes and every link resolves).
public struct HTMLPage {
    /// A run of text inside a paragraph, list item or table cell.
    public enum Inline {
        case text(String)
        case code(String)
        case strong(String)
        case link(String, href: String)
    }

    public var title: String
    private var blocks: [String] = []

    public init(title: String) { self.title = title }

    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    /// A relative path as an attribute value: each segment percent-encoded (spaces, `#`, `?`
    /// would otherwise break the link), then escaped. `#id` is a link within the page.
    public static func href(_ path: String) -> String {
        if path.hasPrefix("#") { return "#" + escape(String(path.dropFirst()).addingPercentEncoding(withAllowedCharacters: .urlFragmentAllowed) ?? "") }
        let allowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "?#;"))
        return escape(path.addingPercentEncoding(withAllowedCharacters: allowed) ?? path)
    }

    static func render(_ inline: [Inline]) -> String {
        inline.map {
            switch $0 {
            case .text(let s): return escape(s)
            case .code(let s): return "<code>\(escape(s))</code>"
            case .strong(let s): return "<strong>\(escape(s))</strong>"
            case .link(let s, let href): return "<a href=\"\(HTMLPage.href(href))\">\(escape(s))</a>"
            }
        }.joined()
    }

    public mutating func heading(_ level: Int, _ text: String, id: String? = nil) {
        let h = min(max(level, 1), 6)
        blocks.append("<h\(h)\(id.map { " id=\"\(HTMLPage.escape($0))\"" } ?? "")>\(HTMLPage.escape(text))</h\(h)>")
    }

    public mutating func paragraph(_ text: String) { paragraph([.text(text)]) }

    public mutating func paragraph(_ inline: [Inline], note: Bool = false) {
        blocks.append("<p\(note ? " class=\"note\"" : "")>\(HTMLPage.render(inline))</p>")
    }

    public mutating func list(_ items: [[Inline]]) {
        blocks.append("<ul>\n" + items.map { "<li>\(HTMLPage.render($0))</li>" }.joined(separator: "\n") + "\n</ul>")
    }

    /// Preformatted text (command output), escaped.
    public mutating func preformatted(_ text: String) {
        blocks.append("<pre>\(HTMLPage.escape(text))</pre>")
    }

    /// Preformatted text folded under a one-line summary the reader clicks to open.
    public mutating func details(_ summary: String, preformatted text: String) {
        blocks.append("<details><summary>\(HTMLPage.escape(summary))</summary><pre>\(HTMLPage.escape(text))</pre></details>")
    }

    /// A table; `numeric` columns are right-aligned. A row's cell may hold several runs.
    public mutating func table(headers: [String], rows: [[[Inline]]], numeric: Set<Int> = [], caption: String? = nil) {
        func cell(_ tag: String, _ i: Int, _ body: String) -> String {
            "<\(tag)\(numeric.contains(i) ? " class=\"num\"" : "")>\(body)</\(tag)>"
        }
        var s = "<table>"
        if let caption { s += "<caption>\(HTMLPage.escape(caption))</caption>" }
        s += "\n<thead><tr>" + headers.enumerated().map { cell("th", $0.offset, HTMLPage.escape($0.element)) }.joined() + "</tr></thead>\n<tbody>\n"
        for row in rows { s += "<tr>" + row.enumerated().map { cell("td", $0.offset, HTMLPage.render($0.element)) }.joined() + "</tr>\n" }
        blocks.append(s + "</tbody></table>")
    }

    /// Images side by side, each with a caption under it; `width` in CSS pixels (nil: natural size).
    public mutating func figures(_ images: [(src: String, caption: String)], width: Int? = nil) {
        var s = "<div class=\"figures\">"
        for image in images {
            let w = width.map { " width=\"\($0)\"" } ?? ""
            s += "<figure><a href=\"\(HTMLPage.href(image.src))\"><img src=\"\(HTMLPage.href(image.src))\" alt=\"\(HTMLPage.escape(image.caption))\"\(w)></a>"
            s += "<figcaption>\(HTMLPage.escape(image.caption))</figcaption></figure>"
        }
        blocks.append(s + "</div>")
    }

    /// An image with text beside it (a caption next to its picture).
    public mutating func imageBeside(src: String, alt: String, width: Int, _ text: [[Inline]]) {
        var s = "<div class=\"beside\"><img src=\"\(HTMLPage.href(src))\" alt=\"\(HTMLPage.escape(alt))\" width=\"\(width)\"><div>"
        for p in text { s += "<p>\(HTMLPage.render(p))</p>" }
        blocks.append(s + "</div></div>")
    }

    /// Opens and closes a `<section>` around the blocks added by `body`.
    public mutating func section(id: String, _ body: (inout HTMLPage) throws -> Void) rethrows {
        blocks.append("<section id=\"\(HTMLPage.escape(id))\">")
        try body(&self)
        blocks.append("</section>")
    }

    public func render() -> String {
        """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(HTMLPage.escape(title))</title>
        <style>
        \(HTMLPage.style)
        </style>
        </head>
        <body>
        <main>
        <h1>\(HTMLPage.escape(title))</h1>
        \(blocks.joined(separator: "\n"))
        </main>
        </body>
        </html>

        """
    }

    public func write(to path: String) throws {
        try AtomicFile.write(render(), to: URL(fileURLWithPath: path))
    }

    static let style = """
    body { font-family: "DejaVu Sans", "Helvetica Neue", Arial, sans-serif; color: #222; background: #fff; margin: 0; line-height: 1.45; }
    main { max-width: 1040px; margin: 0 auto; padding: 24px 32px 64px; }
    h1 { font-size: 1.9em; margin-bottom: 0.2em; }
    h2 { border-bottom: 2px solid #ddd; padding-bottom: 4px; margin-top: 2em; }
    h3 { margin-top: 1.5em; }
    p.note, .note { color: #555; font-size: 0.92em; }
    code, pre { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.88em; }
    code { background: #f3f3f3; padding: 1px 4px; border-radius: 3px; }
    pre { background: #f6f6f6; border: 1px solid #e2e2e2; padding: 10px 12px; overflow-x: auto; line-height: 1.3; }
    table { border-collapse: collapse; margin: 12px 0; }
    caption { text-align: left; font-weight: bold; padding-bottom: 4px; }
    th, td { border: 1px solid #d6d6d6; padding: 4px 10px; vertical-align: top; }
    th { background: #f0f0f0; }
    td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    .figures { display: flex; flex-wrap: wrap; gap: 16px; margin: 12px 0; }
    figure { margin: 0; }
    figure img { max-width: 100%; height: auto; border: 1px solid #e2e2e2; }
    figcaption { font-size: 0.88em; color: #555; max-width: 480px; }
    .beside { display: flex; gap: 20px; align-items: flex-start; margin: 16px 0; }
    .beside img { border: 1px solid #e2e2e2; flex: none; }
    .beside p { margin: 0 0 8px; }
    details { margin: 12px 0; }
    summary { cursor: pointer; color: #335; }
    """
}
