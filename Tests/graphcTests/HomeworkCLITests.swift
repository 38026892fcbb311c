import Foundation
import XCTest

/// The commands scripts/homework.sh runs for Q1 and the page, as a user runs them.
final class HomeworkCLITests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try CLI.temporaryDirectory()
        addTeardownBlock { [dir] in try? FileManager.default.removeItem(at: dir!) }
    }

    func testAttentionStudyPrintsTheAnswerAndItsFilesRunAgainWithRun() throws {
        let q1 = dir.appendingPathComponent("q1").path
        let r = try CLI.run(["graphs/q1_attention.swiftgraph", "--attention-study", "--out", q1])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("singular values of A1:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("-> rank 3"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Related heads, W_Q(2) = W_Q(1) B and W_K(2) = W_K(1) B^-T: max |P1 - P2| = "), r.stdout)
        let again = try CLI.run(["graphs/q1_attention.swiftgraph", "--run", "--weights", q1 + "/heads.safetensors", "--inputs", "X=" + q1 + "/X.npy"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("random inputs"), again.stderr)
        XCTAssertTrue(again.stderr.contains("weights from \(q1)/heads.safetensors"), again.stderr)
    }

    func testAttentionStudyOfAnotherModelIsAClearError() throws {
        let r = try CLI.run(["graphs/cnn.swiftgraph", "--attention-study"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("the attention study needs an input X [L, n]"), r.stderr)
    }

    func testHomeworkPageOfAnEmptyFolderSaysWhatToRun() throws {
        let r = try CLI.run(["--homework-page", dir.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let html = try String(contentsOf: dir.appendingPathComponent("index.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("./scripts/homework.sh q2"))
        let bad = try CLI.run(["graphs/cnn.swiftgraph", "--homework-page", dir.path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("--homework-page takes no model file"), bad.stderr)
    }
}
