import Foundation
import XCTest
@testable import GraphIR

final class AtomicFileTests: XCTestCase {
    func tempDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    struct WriterFailed: Error {}

    func testWriterWritesATemporaryFileThatReplacesTheTarget() throws {
        let dir = try tempDirectory()
        let target = dir.appendingPathComponent("new/out.txt")
        try AtomicFile.write("old", to: target)
        var written: URL?
        try AtomicFile.write(to: target) { tmp in
            XCTAssertNotEqual(tmp, target)
            XCTAssertEqual(tmp.deletingLastPathComponent(), target.deletingLastPathComponent())
            try Data("new".utf8).write(to: tmp)
            XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "old")
            written = tmp
        }
        XCTAssertNotNil(written)
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "new")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: target.deletingLastPathComponent().path), ["out.txt"])
    }

    func testFailingWriterLeavesTheTargetAndNoTemporaryFile() throws {
        let dir = try tempDirectory()
        let target = dir.appendingPathComponent("out.txt")
        try AtomicFile.write("kept", to: target)
        XCTAssertThrowsError(try AtomicFile.write(to: target) { tmp in
            try Data("half".utf8).write(to: tmp)
            throw WriterFailed()
        }) { XCTAssertTrue($0 is WriterFailed, "\($0)") }
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "kept")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.txt"])
    }
}
