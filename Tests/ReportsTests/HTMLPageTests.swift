import Foundation
import Reports
import XCTest

/// The HTML writer: text is escaped everywhere, paths are relative and percent-encoded, and
/// the page carries no external resource.
final class HTMLPageTests: XCTestCase {
    func testEscapesTextInEveryBlock() {
        var page = HTMLPage(title: "a <b> & \"c\"")
        page.heading(2, "<script>alert(1)</script>", id: "x\"y")
        page.paragraph([.text("1 < 2 & 3 > 2"), .code("<pre>"), .strong("'q'"), .link("<link>", href: "a b/c#d.png")])
        page.preformatted("</pre><img src=x>")
        page.table(headers: ["<h>"], rows: [[[.text("<td>")]]], numeric: [0], caption: "<cap>")
        page.figures([(src: "q2/x.png", caption: "<fig>")], width: 100)
        page.imageBeside(src: "q3/219.png", alt: "<alt>", width: 250, [[.text("<caption>")]])
        page.list([[.text("<li>")]])
        let html = page.render()
        XCTAssertTrue(html.contains("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"))
        XCTAssertTrue(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        XCTAssertTrue(html.contains("id=\"x&quot;y\""))
        XCTAssertTrue(html.contains("1 &lt; 2 &amp; 3 &gt; 2"))
        XCTAssertTrue(html.contains("&lt;/pre&gt;&lt;img src=x&gt;"))
        XCTAssertTrue(html.contains("href=\"a%20b/c%23d.png\""), "a space and a # in a path are percent-encoded")
        XCTAssertEqual(HTMLPage.href("#q1"), "#q1", "a link within the page keeps its #")
        for fragment in ["&lt;h&gt;", "&lt;td&gt;", "&lt;cap&gt;", "&lt;fig&gt;", "&lt;alt&gt;", "&lt;caption&gt;", "&lt;li&gt;", "&#39;q&#39;"] {
            XCTAssertTrue(html.contains(fragment), fragment)
        }
        XCTAssertFalse(html.contains("<script>alert"))
        XCTAssertFalse(html.contains("<script"), "the page has no script at all")
    }

    func testNoExternalResources() {
        var page = HTMLPage(title: "t")
        page.figures([(src: "a.png", caption: "a")])
        let html = page.render()
        XCTAssertFalse(html.contains("http://"))
        XCTAssertFalse(html.contains("https://"))
        XCTAssertFalse(html.contains("<link"))
        XCTAssertFalse(html.contains("@import"))
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>"))
    }

    func testSectionsWrapTheirBlocksAndWriteIsAtomic() throws {
        var page = HTMLPage(title: "t")
        page.section(id: "q1") { $0.paragraph("inside") }
        page.paragraph("outside")
        let html = page.render()
        let open = try XCTUnwrap(html.range(of: "<section id=\"q1\">")), close = try XCTUnwrap(html.range(of: "</section>"))
        let inside = try XCTUnwrap(html.range(of: "inside")), outside = try XCTUnwrap(html.range(of: "outside"))
        XCTAssertTrue(open.upperBound <= inside.lowerBound && inside.upperBound <= close.lowerBound && close.upperBound <= outside.lowerBound)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-html-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try page.write(to: dir.appendingPathComponent("index.html").path)
        XCTAssertEqual(try String(contentsOf: dir.appendingPathComponent("index.html"), encoding: .utf8), html)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["index.html"])
    }
}
