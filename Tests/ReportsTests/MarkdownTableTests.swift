import XCTest
@testable import Reports

final class MarkdownTableTests: XCTestCase {
    func testPadsAndAligns() {
        var t = MarkdownTable(headers: ["lr", "dev acc"], alignments: [.left, .right])
        t.append(["0.01", "0.911"])
        t.append(["0.1|x"])
        XCTAssertEqual(t.render(), """
        | lr     | dev acc |
        | ------ | ------: |
        | 0.01   |   0.911 |
        | 0.1\\|x |         |

        """)
        XCTAssertEqual(MarkdownTable(headers: []).render(), "")
    }
}
