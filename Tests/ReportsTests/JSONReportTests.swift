import XCTest
@testable import Reports

final class JSONReportTests: XCTestCase {
    struct Metrics: Encodable {
        var zeta: Double
        var alpha: [Double]
        var name: String
    }

    func testSortedKeysAndNonFiniteNumbers() throws {
        let text = String(decoding: try JSONReport.encode(Metrics(zeta: 0.5, alpha: [1, .nan, -.infinity], name: "lr 0.01")), as: UTF8.self)
        let keys = try ["\"alpha\"", "\"name\"", "\"zeta\""].map { try XCTUnwrap(text.range(of: $0)?.lowerBound) }
        XCTAssertEqual(keys, keys.sorted(), text)
        XCTAssertTrue(text.contains("\"NaN\"") && text.contains("\"-Infinity\""), text)
        XCTAssertTrue(text.hasSuffix("}\n"))
    }

    func testWriteNamesThePathOnFailure() throws {
        let path = "/proc/graphc-cannot-write-here/metrics.json"
        XCTAssertThrowsError(try JSONReport.write(["a": 1], to: path)) { e in
            XCTAssertTrue("\(e)".contains(path), "\(e)")
        }
    }
}
