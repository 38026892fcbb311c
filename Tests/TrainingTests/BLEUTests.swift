import Foundation
import XCTest
@testable import Training

final class BLEUTests: XCTestCase {
    /// ../shared/fixtures/bleu_nltk.json relative to the repository root (nltk 3.10.4 values).
    static var fixtureURL: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("shared/fixtures/bleu_nltk.json")
    }

    struct Case { var name: String; var refs: [[String]]; var hyp: [String]; var expected: Double }

    func loadFixture() throws -> (cases: [Case], mean: Double, corpus: Double)? {
        let url = Self.fixtureURL
        guard FileManager.default.fileExists(atPath: url.path) else {
            print("BLEUTests: skipping the nltk comparison, fixture not found at \(url.path)")
            return nil
        }
        let data = try Data(contentsOf: url)
        let root = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let rawCases = try XCTUnwrap(root["cases"] as? [[String: Any]])
        // JSONSerialization may round doubles differently from the text; Double(String) is
        // correctly rounded, so the numbers are read from the text itself (in file order).
        let text = String(decoding: data, as: UTF8.self)
        let scores = Self.numbers(after: "\"sentence_bleu4\":", in: text)
        XCTAssertEqual(scores.count, rawCases.count)
        var cases: [Case] = []
        for (c, score) in zip(rawCases, scores) {
            cases.append(Case(name: try XCTUnwrap(c["image_name"] as? String),
                              refs: try XCTUnwrap(c["references"] as? [[String]]),
                              hyp: try XCTUnwrap(c["hypothesis"] as? [String]),
                              expected: score))
        }
        return (cases,
                try XCTUnwrap(Self.numbers(after: "\"mean_sentence_bleu4\":", in: text).first),
                try XCTUnwrap(Self.numbers(after: "\"corpus_bleu4\":", in: text).first))
    }

    /// The JSON numbers that follow each occurrence of `key` in `text`.
    static func numbers(after key: String, in text: String) -> [Double] {
        var out: [Double] = []
        var rest = text[...]
        while let r = rest.range(of: key) {
            let tail = rest[r.upperBound...].drop(while: { $0 == " " })
            let literal = tail.prefix(while: { "0123456789+-.eE".contains($0) })
            if let v = Double(literal) { out.append(v) }
            rest = tail
        }
        return out
    }

    /// Relative 1e-9, so that the tiny log(DBL_MIN) scores (~1e-78) are compared meaningfully.
    static func close(_ got: Double, _ want: Double) -> Bool {
        abs(got - want) <= 1e-9 * max(abs(want), Double.leastNormalMagnitude)
    }

    func testEveryFixtureCaseMatchesNltk() throws {
        guard let fx = try loadFixture() else { return }
        XCTAssertEqual(fx.cases.count, 58)
        var matched = 0, identical = 0
        for c in fx.cases {
            let got = BLEU.sentence(references: c.refs, hypothesis: c.hyp)
            XCTAssert(Self.close(got, c.expected), "\(c.name): got \(got), nltk \(c.expected)")
            if Self.close(got, c.expected) { matched += 1 }
            if got == c.expected { identical += 1 }
        }
        print("BLEUTests: \(matched)/\(fx.cases.count) nltk sentence_bleu cases match to 1e-9 (relative), \(identical) bit for bit")
        // Bit-for-bit agreement depends on the platform's libm (exp, log), so it is reported,
        // not asserted.
        let mean = try BLEU.meanSentence(references: fx.cases.map(\.refs), hypotheses: fx.cases.map(\.hyp))
        XCTAssert(Self.close(mean, fx.mean), "mean sentence BLEU: got \(mean), nltk \(fx.mean)")
        let corpus = try BLEU.corpus(references: fx.cases.map(\.refs), hypotheses: fx.cases.map(\.hyp))
        XCTAssert(Self.close(corpus, fx.corpus), "corpus BLEU: got \(corpus), nltk \(fx.corpus)")
        print("BLEUTests: mean sentence BLEU \(mean) (nltk \(fx.mean)), corpus BLEU \(corpus) (nltk \(fx.corpus))")
    }

    func testPerfectMatchScoresOne() {
        let s = "a residential area with many houses".split(separator: " ").map(String.init)
        XCTAssertEqual(BLEU.sentence(references: [s, ["x"]], hypothesis: s), 1.0)
    }

    func testEmptyHypothesisAndNoUnigramMatchScoreZero() {
        XCTAssertEqual(BLEU.sentence(references: [["a", "b"]], hypothesis: []), 0)
        XCTAssertEqual(BLEU.sentence(references: [["a", "b", "c", "d"]], hypothesis: ["x", "y", "z", "w"]), 0)
    }

    func testMissingHigherOrderUsesSmallestNormalDouble() {
        // "this is a": p1 = p2 = p3 = 1, p4 = 0 -> exp(0.25 * log(DBL_MIN)); reference length 4
        // gives the brevity penalty exp(1 - 4/3).
        let ref = ["this", "is", "a", "park"]
        let got = BLEU.sentence(references: [ref], hypothesis: ["this", "is", "a"])
        let want = exp(1.0 - 4.0 / 3.0) * exp(0.25 * log(Double.leastNormalMagnitude))
        XCTAssertEqual(got, want, accuracy: want * 1e-12)
        XCTAssertGreaterThan(got, 0)
    }

    func testCountsAreClippedByTheBestSingleReference() {
        // Hypothesis "the the the the": reference 1 has "the" twice, reference 2 once -> p1 = 2/4.
        let (num, den) = BLEU.clippedPrecision(references: [["the", "cat", "the"], ["the"]],
                                              hypothesis: ["the", "the", "the", "the"], order: 1)
        XCTAssertEqual(num, 2)
        XCTAssertEqual(den, 4)
    }

    func testClosestReferenceLengthTiesGoToTheShorter() {
        let len = { (n: Int) in Array(repeating: "a", count: n) }
        XCTAssertEqual(BLEU.closestReferenceLength(references: [len(7), len(3)], hypothesisLength: 5), 3)
        XCTAssertEqual(BLEU.closestReferenceLength(references: [len(9), len(6)], hypothesisLength: 5), 6)
    }

    func testCorpusRejectsUnpairedInput() {
        XCTAssertThrowsError(try BLEU.corpus(references: [[["a"]]], hypotheses: []))
    }

    func testExactSumRoundsLikeFsum() {
        XCTAssertEqual(ExactSum.sum([1e100, 1.0, -1e100, 1e-100]), 1.0)
        XCTAssertEqual(ExactSum.sum([0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]), 1.0)
        XCTAssertEqual(ExactSum.sum([]), 0)
    }
}
