import GraphIR
import XCTest
@testable import Frontend

/// The parameter totals the homework states, counted from the lowered graphs' param nodes.
final class ParameterCountTests: XCTestCase {
    func check(_ name: String, _ expected: Int, mode: Mode = .train, file: StaticString = #filePath, line: UInt = #line) throws {
        let (g, rows) = try Fixtures.lower(name, mode: mode)
        XCTAssertEqual(g.trainableCount, expected, "\(name) total", file: file, line: line)
        // The summary table's parameter column adds up to the same total.
        XCTAssertEqual(rows.reduce(0) { $0 + $1.parameters }, expected, "\(name) summary", file: file, line: line)
        XCTAssertEqual(rows.reduce(0) { $0 + $1.buffers }, g.bufferCount, file: file, line: line)
    }

    func testQ1CNN() throws { try check("q1_cnn", 10_298) }
    func testQ1MLP() throws { try check("q1_mlp", 236_310) }
    func testQ1Attention() throws { try check("q1_attention", 4 * 8 * 3) }
    func testCNN() throws { try check("cnn", 769_930) }
    func testCaptionLSTM() throws {
        try check("caption_lstm", 697_078)
        try check("caption_lstm", 697_078, mode: .infer)
    }
    func testCaptionAttention() throws {
        try check("caption_attention", 1_298_467)
        try check("caption_attention", 1_298_467, mode: .infer)
    }
    func testResNet18() throws {
        let (g, _) = try Fixtures.lower("resnet18")
        try check("resnet18", 11_176_512)
        // Running mean and variance of every BatchNorm: 2 * (64 + 4*64 + 4*128 + 4*256 + 4*512) + 2 * (128 + 256 + 512).
        XCTAssertEqual(g.bufferCount, 2 * (64 + 4 * 64 + 4 * 128 + 4 * 256 + 4 * 512) + 2 * (128 + 256 + 512))
        XCTAssertEqual(g.outputs.first.map { g.type(of: $0.value).description }, "f32[B,512,16,16]")
    }
}

final class SummaryTableTests: XCTestCase {
    func testTable() throws {
        let (_, rows) = try Fixtures.lower("cnn")
        let table = LayerSummaryRow.table(rows)
        let lines = table.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines[0].hasPrefix("Layer (type)"))
        XCTAssertTrue(lines.contains { $0.hasPrefix("  head.1 (Linear)") && $0.contains("[B,600]") && $0.hasSuffix("691,800") }, table)
        XCTAssertEqual(lines.last, "Total params: 769,930")
        let (_, resnet) = try Fixtures.lower("resnet18")
        let t2 = LayerSummaryRow.table(resnet)
        XCTAssertTrue(t2.contains("Total params: 11,176,512\n"), t2)
        XCTAssertTrue(t2.contains("Buffers (not trained): 9,600\n"), t2)
        XCTAssertEqual(LayerSummaryRow.grouped(1_000), "1,000")
        XCTAssertEqual(LayerSummaryRow.grouped(999), "999")
    }
}
