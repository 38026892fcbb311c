import Foundation
import XCTest
@testable import Datasets

final class CaptionsTests: XCTestCase {
    typealias F = CaptioningTestFiles

    func testRealSydneyCaptionsFiles() throws {
        guard let dir = F.sydneyDirectory(#function) else { return }
        let data = try SydneyCaptions.load(directory: dir)
        let v = data.vocabulary
        XCTAssertEqual(v.size, 190)
        XCTAssertEqual(v.maxLen, 22)
        XCTAssertEqual([v.pad, v.start, v.end, v.unk], [0, 1, 2, 3])
        XCTAssertEqual(v.idToToken[0], "<#>")
        XCTAssertEqual(v.tokenToId["a"], 4)
        XCTAssertEqual(v.idToToken[4], "a")

        XCTAssertEqual(data.train.imageNames.count, 2485)
        XCTAssertEqual(data.train.captions.count, 2485)
        XCTAssertEqual(Set(data.train.imageNames).count, 497)
        XCTAssertEqual(data.train.imageNames.first, "392.tif")
        XCTAssertEqual(data.train.captions.first, ["<start_seq>", "a", "part", "of", "ocean", "with", "deep", "green", "waters", "<end_seq>"])
        for split in [data.val, data.test] {
            XCTAssertEqual(split.imageNames.count, 58)
            XCTAssertEqual(split.refs.count, 58)
            XCTAssert(split.orderedRefs.allSatisfy { $0.count == 5 })
        }
        XCTAssertEqual(data.val.imageNames.first, "195.tif")
        XCTAssertEqual(data.val.refs["195.tif"]?.first,
                       ["many", "houses", "arranged", "neatly", "and", "divided", "into", "rectangles", "by", "some", "roads"])

        XCTAssertEqual(data.dataset.images.count, 613)
        XCTAssertEqual(data.dataset.images(inSplit: "train").count, 497)
        XCTAssertEqual(data.dataset.images(inSplit: "val").count, 58)
        XCTAssertEqual(data.dataset.images(inSplit: "test").count, 58)
        XCTAssert(data.dataset.images.allSatisfy { $0.sentences.count == 5 })
        XCTAssertEqual(data.dataset.images.first?.filename, "1.tif")
        XCTAssertEqual(data.dataset.images.first?.sentences.first?.tokens.prefix(3), ["A", "residential", "area"])

        let (ids, lengths) = try data.train.encoded(with: v)
        XCTAssertEqual(ids.count, 2485 * 22)
        XCTAssertEqual(lengths.max(), 22)
        XCTAssertEqual(Array(ids.prefix(10)), v.encode(data.train.captions[0]))
        XCTAssertEqual(ids[10..<22].allSatisfy { $0 == 0 }, true)
        XCTAssertFalse(ids.contains(Int64(v.unk)), "every training token is in the vocabulary")
        XCTAssertEqual(v.decode(Array(ids.prefix(22))), Array(data.train.captions[0].dropFirst().dropLast()))
        XCTAssert(data.imagePath("219.tif").hasSuffix("sydney-captions/images/219.tif"))
    }

    func testEncodeDecode() throws {
        let v = try Vocabulary(tokens: ["<#>", "<start_seq>", "<end_seq>", "<unk>", "a", "river"], maxLen: 5)
        XCTAssertEqual(v.encode(["<start_seq>", "a", "lake", "river"]), [1, 4, 3, 5])
        XCTAssertEqual(v.encodePadded(["<start_seq>", "a", "<end_seq>"]), [1, 4, 2, 0, 0])
        XCTAssertEqual(v.encodePadded(["a", "a", "a", "a", "a", "a", "a"]), [4, 4, 4, 4, 4])
        XCTAssertEqual(v.decode([1, 4, 5, 2, 4, 4]), ["a", "river"])
        XCTAssertEqual(v.decode([4, 99, -1]), ["a", "<unk>", "<unk>"])
        XCTAssertThrowsError(try Vocabulary(tokens: ["<#>", "<start_seq>", "<end_seq>"], maxLen: 5))
    }

    func testImageNumbers() {
        XCTAssertEqual(SydneyCaptions.imageNumber("219.tif"), 219)
        XCTAssertNil(SydneyCaptions.imageNumber("0219.tif"))
        XCTAssertNil(SydneyCaptions.imageNumber("x.tif"))
        XCTAssertNil(SydneyCaptions.imageNumber("0.tif"))
        XCTAssertNil(SydneyCaptions.imageNumber("219.png"))
    }

    func testSyntaxErrorsGivePosition() throws {
        let dir = try F.tempDirectory(self)
        let p1 = try F.write("{\n  \"images_names\": [\"1.tif\",\n  ]\n}", "train.json", in: dir)
        F.assertFileError(try CaptionsTrain.load(path: p1), file: p1, contains: "JSON syntax error at line 3, column 3")
        let p2 = try F.write("{\"images_names\": [\"1.tif\"", "val.json", in: dir)
        F.assertFileError(try CaptionsEval.load(path: p2), file: p2, contains: "unexpected end of file")
        let p3 = try F.write("{} x", "test.json", in: dir)
        F.assertFileError(try CaptionsEval.load(path: p3), file: p3, contains: "JSON syntax error at line 1, column 4 (byte 3)")
        let p4 = try F.write("", "empty.json", in: dir)
        F.assertFileError(try Vocabulary.load(path: p4), file: p4, contains: "empty file")
        let missing = dir.appendingPathComponent("nope.json").path
        F.assertFileError(try Vocabulary.load(path: missing), file: missing, contains: "no such file")
    }

    func testWrongTypesAndMissingKeys() throws {
        let dir = try F.tempDirectory(self)
        let p = try F.write(#"{"images_names": ["1.tif", "2.tif"], "captions_tokens": [["<start_seq>", "a", "<end_seq>"], ["<start_seq>", 7]]}"#, "train.json", in: dir)
        F.assertFileError(try CaptionsTrain.load(path: p), file: p, contains: "train.json: captions_tokens[1] is not an array of strings (element 1 is an integer)")
        let p2 = try F.write(#"{"images_names": ["1.tif"], "captions_tokens": [["<start_seq>", "a", "<end_seq>"], ["<start_seq>", "<end_seq>"]]}"#, "train.json", in: dir)
        F.assertFileError(try CaptionsTrain.load(path: p2), file: p2, contains: "images_names has 1 entries but captions_tokens has 2")
        let p3 = try F.write(#"{"images_names": ["1.tif"]}"#, "train.json", in: dir)
        F.assertFileError(try CaptionsTrain.load(path: p3), file: p3, contains: "missing key \"captions_tokens\"")
        let p4 = try F.write(#"{"images_names": ["1.tif"], "captions_tokens": [["a", "<end_seq>"]]}"#, "train.json", in: dir)
        F.assertFileError(try CaptionsTrain.load(path: p4), file: p4, contains: "captions_tokens[0] is not wrapped in <start_seq>")
        let p5 = try F.write(#"[1, 2]"#, "train.json", in: dir)
        F.assertFileError(try CaptionsTrain.load(path: p5), file: p5, contains: "is an array, expected an object")

        let e1 = try F.write(#"{"images_names": ["1.tif", "2.tif"], "all_refs": {"1.tif": [["a"]]}}"#, "val.json", in: dir)
        F.assertFileError(try CaptionsEval.load(path: e1), file: e1, contains: "all_refs has no references for \"2.tif\"")
        let e2 = try F.write(#"{"images_names": ["1.tif"], "all_refs": {"1.tif": [["a"], "b"]}}"#, "val.json", in: dir)
        F.assertFileError(try CaptionsEval.load(path: e2), file: e2, contains: "all_refs[\"1.tif\"][1] is not an array of strings")

        let k = try F.write(#"{"images": [{"filename": "1.tif", "split": "train", "imgid": "0", "sentences": []}]}"#, "dataset.json", in: dir)
        F.assertFileError(try KarpathyDataset.load(path: k), file: k, contains: "images[0].imgid is a string, expected an integer")
    }

    func testVocabularyValidation() throws {
        let dir = try F.tempDirectory(self)
        func vocab(_ size: Int, _ t2i: String, _ i2t: String, maxLen: String = "22") throws -> String {
            try F.write(#"{"vocab_size": \#(size), "max_len": \#(maxLen), "token_to_id": {\#(t2i)}, "id_to_token": {\#(i2t)}}"#, "vocab_info.json", in: dir)
        }
        let t2i = #""<#>": 0, "<start_seq>": 1, "<end_seq>": 2, "<unk>": 3"#
        let i2t = #""0": "<#>", "1": "<start_seq>", "2": "<end_seq>", "3": "<unk>""#
        XCTAssertEqual(try Vocabulary.load(path: try vocab(4, t2i, i2t)).size, 4)
        let a = try vocab(5, t2i, i2t)
        F.assertFileError(try Vocabulary.load(path: a), file: a, contains: "token_to_id has 4 entries but vocab_size is 5")
        let b = try vocab(4, #""<#>": 0, "<start_seq>": 1, "<end_seq>": 2, "<unk>": 9"#, i2t)
        F.assertFileError(try Vocabulary.load(path: b), file: b, contains: "token_to_id[\"<unk>\"] id 9 is out of range 0..<4")
        let c = try vocab(4, t2i, #""0": "<#>", "1": "<start_seq>", "2": "<unk>", "3": "<end_seq>""#)
        F.assertFileError(try Vocabulary.load(path: c), file: c, contains: "id_to_token[\"2\"] is \"<unk>\" but token_to_id gives id 2 to \"<end_seq>\"")
        let d = try vocab(4, #""<#>": 0, "<start_seq>": 1, "<end_seq>": 1, "<unk>": 3"#, i2t)
        F.assertFileError(try Vocabulary.load(path: d), file: d, contains: "reuses id 1")
        let e = try vocab(4, #""<#>": 0, "<start_seq>": 1, "x": 2, "<unk>": 3"#, #""0": "<#>", "1": "<start_seq>", "2": "x", "3": "<unk>""#)
        F.assertFileError(try Vocabulary.load(path: e), file: e, contains: "special token <end_seq> is missing")
        let f = try vocab(4, t2i, i2t, maxLen: "\"22\"")
        F.assertFileError(try Vocabulary.load(path: f), file: f, contains: "max_len is a string, expected an integer")
    }

    func testSydneyFolderErrors() throws {
        let dir = try F.tempDirectory(self)
        F.assertFileError(try SydneyCaptions.load(directory: dir.appendingPathComponent("none").path),
                          file: dir.appendingPathComponent("none").path, contains: "folder not found")
        let missing = dir.appendingPathComponent("datasets/vocab_info.json").path
        F.assertFileError(try SydneyCaptions.load(directory: dir.path), file: missing, contains: "no such file")
    }
}
