import Foundation
import Training
import XCTest

/// `HomeworkPage` (graphc --homework-page): the questions in the homework's order, the parts
/// that have run with their numbers and commands, the others with the command that makes them.
final class HomeworkPageTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-page-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/q1", withIntermediateDirectories: true)
        addTeardownBlock { [dir] in try? FileManager.default.removeItem(atPath: dir) }
    }

    var graphs: String { ModelRunTests.graphs.path }

    func testEmptyResultsFolderGivesEveryQuestionAndWhatToRun() throws {
        let html = try HomeworkPage(results: dir, graphs: graphs).render()
        let q1 = try XCTUnwrap(html.range(of: "Question 1")), q2 = try XCTUnwrap(html.range(of: "Question 2"))
        let q3 = try XCTUnwrap(html.range(of: "Question 3"))
        XCTAssertTrue(q1.upperBound < q2.lowerBound && q2.upperBound < q3.lowerBound)
        // Q1's counts come from the graphs themselves.
        XCTAssertTrue(html.contains("10,298"))
        XCTAssertTrue(html.contains("236,310"))
        for part in ["q1", "q2", "q3"] { XCTAssertTrue(html.contains("./scripts/homework.sh \(part)"), part) }
        XCTAssertFalse(html.contains("<img"), "no picture is linked before it exists")
    }

    func testStudyAndStepsAppearWithTheirProvenance() throws {
        try SelfAttentionStudy.run(file: graphs + "/q1_attention.swiftgraph", seed: 7, out: dir + "/q1")
        try "count-params\t1.25\tgraphc graphs/q1_cnn.swiftgraph graphs/q1_mlp.swiftgraph --count-params\nbroken line\nstudy\t0.5\tgraphc graphs/q1_attention.swiftgraph --attention-study --out results/q1 & <x>\n"
            .write(toFile: dir + "/q1/steps.tsv", atomically: true, encoding: .utf8)
        let path = try HomeworkPage(results: dir, graphs: graphs).write()
        XCTAssertEqual(path, dir + "/index.html")
        let html = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(html.contains("--attention-study --out results/q1 &amp; &lt;x&gt;"), "commands are escaped")
        XCTAssertTrue(html.contains("1.2 s") || html.contains("1.3 s"))
        XCTAssertTrue(html.contains("href=\"q1/heads.safetensors\""))
        XCTAssertTrue(html.contains("Seed 7"))
        XCTAssertFalse(html.contains("Run <code>./scripts/homework.sh q1</code> to record"))
        XCTAssertEqual(HomeworkPage.parseSteps("a\t2\tb c\nno tabs\nx\tnan?\ty\n").map(\.label), ["a"])
    }

    func testAMalformedMetricsFileIsAClearError() throws {
        try FileManager.default.createDirectory(atPath: dir + "/q2", withIntermediateDirectories: true)
        try "{\"model\": 3}".write(toFile: dir + "/q2/metrics.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try HomeworkPage(results: dir, graphs: graphs).render()) { e in
            XCTAssertTrue("\(e)".contains("q2/metrics.json"), "\(e)")
        }
    }
}
