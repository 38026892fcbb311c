import Datasets
import Foundation
import GraphIR
import Runtime

/// `graphc --bleu CAPTIONS.json --refs test.json`: scores a captions file in the homework's
/// format (`[{"image_name": "1.tif", "caption": ["a", ...]}, ...]`, as its train.py and graphc
/// write it) against a val/test split, so PyTorch's results and graphc's are scored by one code.
public enum BleuScoring {
    public struct Scores: Equatable {
        public var meanSentence: Double
        public var corpus: Double
        public var images: Int
    }

    /// The printed line: `BLEU-4 <mean sentence BLEU> corpus <corpus BLEU>`, each number in
    /// Swift's shortest round-trip form so a reader can compare it with nltk's digit for digit.
    public static func line(captions: String, refs: String) throws -> String {
        let s = try score(captions: captions, refs: refs)
        return "BLEU-4 \(s.meanSentence) corpus \(s.corpus)"
    }

    public static func score(captions: String, refs: String) throws -> Scores {
        let references = try CaptionsEval.load(path: refs)
        let generated = try readCaptions(path: captions)
        var byName: [String: [String]] = [:]
        for entry in generated {
            guard byName[entry.imageName] == nil else {
                throw RuntimeError("\(captions): image '\(entry.imageName)' has two captions")
            }
            guard references.refs[entry.imageName] != nil else {
                throw RuntimeError("\(captions): image '\(entry.imageName)' is not in \(refs)")
            }
            byName[entry.imageName] = entry.caption
        }
        var hypotheses: [[String]] = []
        for name in references.imageNames {
            guard let caption = byName[name] else {
                throw RuntimeError("\(captions): no caption for image '\(name)' of \(refs) (\(byName.count) of \(references.imageNames.count) images captioned)")
            }
            hypotheses.append(caption)
        }
        return try scores(references: references.orderedRefs, hypotheses: hypotheses)
    }

    public static func scores(references: [[[String]]], hypotheses: [[String]]) throws -> Scores {
        Scores(meanSentence: try BLEU.meanSentence(references: references, hypotheses: hypotheses),
               corpus: try BLEU.corpus(references: references, hypotheses: hypotheses),
               images: hypotheses.count)
    }

    /// One generated caption of the homework's results files.
    public struct Caption: Codable, Equatable {
        public var imageName: String
        public var caption: [String]

        public init(imageName: String, caption: [String]) {
            self.imageName = imageName
            self.caption = caption
        }
        enum CodingKeys: String, CodingKey {
            case imageName = "image_name"
            case caption
        }
    }

    public static func readCaptions(path: String) throws -> [Caption] {
        if let problem = InputFile.problem(path) { throw RuntimeError("\(path): cannot read the captions file: it \(problem)") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RuntimeError("\(path): cannot read the captions file (missing, unreadable or a directory)")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw RuntimeError("\(path): not valid JSON (\(error.localizedDescription))")
        }
        guard let list = json as? [Any] else {
            throw RuntimeError("\(path): expected a JSON list of {\"image_name\": ..., \"caption\": [tokens]}")
        }
        var out: [Caption] = []
        for (i, item) in list.enumerated() {
            guard let object = item as? [String: Any] else { throw RuntimeError("\(path): entry \(i) is not an object") }
            guard let name = object["image_name"] as? String else {
                throw RuntimeError("\(path): entry \(i) has no string \"image_name\"")
            }
            guard let tokens = object["caption"] as? [Any] else {
                throw RuntimeError("\(path): entry \(i) (\(name)) has no list \"caption\"")
            }
            var caption: [String] = []
            for (j, t) in tokens.enumerated() {
                guard let token = t as? String else { throw RuntimeError("\(path): entry \(i) (\(name)): caption token \(j) is not a string") }
                caption.append(token)
            }
            out.append(Caption(imageName: name, caption: caption))
        }
        return out
    }
}
