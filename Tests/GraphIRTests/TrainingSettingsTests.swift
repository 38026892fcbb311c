import Foundation
import XCTest
@testable import GraphIR

/// The training settings' one set of rules, and the `.gir` meta line checked by them.
final class TrainingSettingsTests: XCTestCase {
    func parseMeta(_ meta: String) throws -> Graph {
        try IRParser.parse("graph @m {\n  meta {\(meta)}\n}\n", file: "m.gir")
    }

    func assertRefused(_ meta: String, says text: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try parseMeta(meta), file: file, line: line) { error in
            guard let d = error as? Diagnostic else { return XCTFail("not a Diagnostic: \(error)", file: file, line: line) }
            XCTAssertEqual(d.location.file, "m.gir", file: file, line: line)
            XCTAssertEqual(d.location.line, 2, "located at the meta line", file: file, line: line)
            XCTAssertTrue(d.message.contains(text), "expected '\(text)' in: \(d.message)", file: file, line: line)
        }
    }

    func testMetaLineValuesOutsideTheirRulesAreLocatedErrors() {
        assertRefused("epochs=0", says: "epochs must be an integer between 1 and 1000000, got 0")
        assertRefused("epochs=\"many\"", says: "epochs must be an integer between 1 and 1000000, got \"many\"")
        assertRefused("epochs=2.5", says: "epochs must be an integer")
        assertRefused("batch_size=0", says: "batch_size must be an integer between 1 and 16777216, got 0")
        assertRefused("batch_size=-8", says: "batch_size must be")
        assertRefused("batch_size=9223372036854775807", says: "batch_size must be")
        assertRefused("metric=\"f1\"", says: "metric must be one of 'accuracy', 'bleu4', 'loss', got \"f1\"")
        assertRefused("optimizer=\"rmsprop\"", says: "optimizer must be one of 'sgd', 'adam'")
        assertRefused("mode=\"sideways\"", says: "mode must be one of 'train', 'infer'")
        assertRefused("lr=0.0", says: "lr must be a finite positive number")
        assertRefused("weight_decay=inf", says: "weight_decay must be a finite non-negative number, got inf")
        assertRefused("dropout=1.0", says: "dropout must be a number in [0.0, 1.0)")
        assertRefused("momentum=nan", says: "momentum must be")
        assertRefused("seed=-1", says: "seed must be an integer of at least 0")
    }

    func testValidSettingsAndOtherKeysAreKept() throws {
        let g = try parseMeta("dataset=\"fashionMNIST\", epochs=3, batch_size=8, lr=1, dropout=0.0, mode=\"infer\", param_count=50, arena_bytes=64")
        XCTAssertEqual(g.metadata.int("epochs"), 3)
        XCTAssertEqual(g.metadata.float("lr"), 1)
        XCTAssertEqual(g.metadata.int("param_count"), 50)
    }

    func testRulesNameTheirFlagsAndLabels() {
        XCTAssertEqual(TrainingSettings.named(label: "batchSize")?.flag, "--batch-size")
        XCTAssertEqual(TrainingSettings.named(key: "weight_decay")?.flag, "--l2")
        XCTAssertNil(TrainingSettings.epochs.problem(with: 1_000_000))
        XCTAssertNotNil(TrainingSettings.epochs.problem(with: 1_000_001))
        XCTAssertNil(TrainingSettings.momentum.problem(with: 0.0))
        XCTAssertNotNil(TrainingSettings.momentum.problem(with: 1.0))
        XCTAssertNil(TrainingSettings.momentum.problem(with: .int(0)), "an integer is a number")
        XCTAssertEqual(Set(TrainingSettings.all.map(\.key)).count, TrainingSettings.all.count, "one rule per key")
    }
}

/// How a diagnostic shows the offending source line.
final class DiagnosticSourceLineTests: XCTestCase {
    func testControlCharactersAreEscapedAndTheCaretStillLinesUp() {
        let d = Diagnostic("bad", at: SourceLocation(file: "a.gir", line: 1, column: 4), sourceLine: "a\u{0}b\u{1B}c")
        XCTAssertEqual(d.render(), "a.gir:1:4: error: bad\na\\u{0}b\\u{1B}c\n       ^")
        XCTAssertFalse(d.render().contains("\u{0}"))
    }

    func testTabsAreKeptForTheCaret() {
        let d = Diagnostic("bad", at: SourceLocation(file: "a.gir", line: 1, column: 3), sourceLine: "\tx+")
        XCTAssertEqual(d.render(), "a.gir:1:3: error: bad\n\tx+\n\t ^")
    }

    func testAVeryLongLineIsShownAroundTheColumn() {
        let line = String(repeating: "a", count: 5_000_000) + "X" + String(repeating: "b", count: 5_000_000)
        let d = Diagnostic("bad", at: SourceLocation(file: "big.gir", line: 1, column: 5_000_001), sourceLine: line)
        let lines = d.render().split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 3)
        XCTAssertLessThanOrEqual(lines[1].count, Diagnostic.maxShownCharacters + 6)
        XCTAssertTrue(lines[1].hasPrefix("...") && lines[1].hasSuffix("..."), String(lines[1].prefix(20)))
        // The caret sits under the X.
        XCTAssertEqual(lines[2].count - 1, Array(lines[1]).firstIndex(of: "X"))
    }

    func testAShortLineIsShownWhole() {
        let d = Diagnostic("bad", at: SourceLocation(file: "a.gir", line: 1, column: 300), sourceLine: "xyz")
        XCTAssertEqual(d.render(), "a.gir:1:300: error: bad\nxyz\n   ^")
    }
}

/// Inputs must be regular files.
final class InputFileTests: XCTestCase {
    func testDevicesFIFOsFoldersAndMissingFilesAreNamed() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("inputfile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let fifo = dir.appendingPathComponent("pipe").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        XCTAssertEqual(InputFile.problem(fifo), "is a FIFO (named pipe), not a regular file")
        XCTAssertEqual(InputFile.problem("/dev/zero"), "is a device, not a regular file")
        XCTAssertEqual(InputFile.problem(dir.path), "is a directory, not a file")
        XCTAssertEqual(InputFile.problem(dir.appendingPathComponent("absent").path), "no such file")
        let file = dir.appendingPathComponent("f.gir")
        try Data(count: 100).write(to: file)
        XCTAssertNil(InputFile.problem(file.path))
        XCTAssertNil(InputFile.problem(file.path, maxBytes: 100))
        XCTAssertEqual(InputFile.problem(file.path, maxBytes: 99), "is 100 bytes, more than the 99 bytes allowed")
    }
}
