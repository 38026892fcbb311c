import Foundation
import XCTest
@testable import Training

final class BleuScoringTests: XCTestCase {
    /// Three images; expected numbers from nltk 3.10.4 (sentence_bleu, corpus_bleu, default
    /// weights, no smoothing). The third hypothesis has no bigram match: nltk's tiny positive score.
    let refs: [String: [[String]]] = [
        "1.tif": [["a", "green", "park", "with", "trees"], ["many", "trees", "in", "a", "park"]],
        "2.tif": [["a", "road", "goes", "through", "the", "area", "with", "houses"]],
        "3.tif": [["the", "sea", "is", "blue"]],
    ]
    let hyps: [(String, [String])] = [
        ("3.tif", ["blue", "sea"]),
        ("1.tif", ["a", "green", "park", "with", "many", "trees"]),
        ("2.tif", ["a", "road", "goes", "through", "the", "houses"]),
    ]

    func write(_ dir: URL, refs: Any, captions: Any) throws -> (captions: String, refs: String) {
        let c = dir.appendingPathComponent("caps.json"), r = dir.appendingPathComponent("refs.json")
        try JSONSerialization.data(withJSONObject: captions).write(to: c)
        try JSONSerialization.data(withJSONObject: refs).write(to: r)
        return (c.path, r.path)
    }

    var refsObject: [String: Any] { ["images_names": ["1.tif", "2.tif", "3.tif"], "all_refs": refs] }
    var captionsObject: [[String: Any]] { hyps.map { ["image_name": $0.0, "caption": $0.1] } }

    func testPrintsMeanSentenceAndCorpusBleuAsNltk() throws {
        let dir = try temporaryDirectory("bleu")
        let files = try write(dir, refs: refsObject, captions: captionsObject)
        XCTAssertEqual(try BleuScoring.line(captions: files.captions, refs: files.refs),
                       "BLEU-4 0.39137048567192695 corpus 0.5206536287445455")
    }

    func testWholeNltkFixtureThroughTheFiles() throws {
        let url = Q3Support.repository.deletingLastPathComponent().appendingPathComponent("shared/fixtures/bleu_nltk.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { throw XCTSkip("no \(url.path)") }
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try XCTUnwrap(root["cases"] as? [[String: Any]])
        var all: [String: Any] = [:]
        for c in cases { all[try XCTUnwrap(c["image_name"] as? String)] = c["references"] }
        let dir = try temporaryDirectory("bleu-fixture")
        let files = try write(dir, refs: ["images_names": cases.map { $0["image_name"] ?? "" }, "all_refs": all],
                              captions: cases.map { ["image_name": $0["image_name"] ?? "", "caption": $0["hypothesis"] ?? []] })
        let s = try BleuScoring.score(captions: files.captions, refs: files.refs)
        XCTAssertEqual(s.images, cases.count)
        XCTAssertEqual(s.meanSentence, try XCTUnwrap(root["mean_sentence_bleu4"] as? Double), accuracy: 1e-9)
        XCTAssertEqual(s.corpus, try XCTUnwrap(root["corpus_bleu4"] as? Double), accuracy: 1e-9)
    }

    func testBadCaptionFilesNameTheProblem() throws {
        let dir = try temporaryDirectory("bleu-bad")
        let files = try write(dir, refs: refsObject, captions: captionsObject)
        func expectError(_ text: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: files.captions))
            XCTAssertThrowsError(try BleuScoring.score(captions: files.captions, refs: files.refs), file: file, line: line) { e in
                XCTAssertTrue("\(e)".contains(fragment), "\(e)", file: file, line: line)
                XCTAssertTrue("\(e)".contains(files.captions) || "\(e)".contains(files.refs), "\(e)", file: file, line: line)
            }
        }
        try expectError("[{\"image_name\": \"1.tif\", \"caption\": [\"a\"", "not valid JSON")
        try expectError("{\"image_name\": \"1.tif\"}", "expected a JSON list")
        try expectError("[{\"image_name\": \"1.tif\", \"caption\": [\"a\", 3]}]", "caption token 1 is not a string")
        try expectError("[{\"caption\": []}]", "no string \"image_name\"")
        try expectError("[{\"image_name\": \"1.tif\", \"caption\": []}]", "no caption for image '2.tif'")
        try expectError("[{\"image_name\": \"9.tif\", \"caption\": []}]", "'9.tif' is not in")
        try expectError("[{\"image_name\": \"1.tif\", \"caption\": []}, {\"image_name\": \"1.tif\", \"caption\": []}]", "two captions")
        XCTAssertThrowsError(try BleuScoring.score(captions: dir.appendingPathComponent("missing.json").path, refs: files.refs))
    }
}
