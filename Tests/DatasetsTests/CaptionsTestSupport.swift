import GraphIR
import Foundation
import XCTest
@testable import Datasets

/// Paths and temp files shared by the captioning-data tests.
enum CaptioningTestFiles {
    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// ../shared/data/sydney-captions from the repository root, or nil (with a printed reason).
    static func sydneyDirectory(_ test: String) -> String? {
        let dir = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/data/sydney-captions").path
        guard FileManager.default.fileExists(atPath: dir) else {
            print("\(test): skipped, Sydney-Captions data not found at \(dir)")
            return nil
        }
        return dir
    }

    static var fixturesDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    }

    /// A fresh temporary folder, removed when the test ends.
    static func tempDirectory(_ test: XCTestCase) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-captioning-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    static func write(_ text: String, _ name: String, in dir: URL) throws -> String {
        let url = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: url)
        return url.path
    }

    /// Asserts that `body` throws a FileError for `file` whose message contains `fragment`.
    static func assertFileError<T>(_ body: @autoclosure () throws -> T, file path: String, contains fragment: String,
                                   file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try body()
            XCTFail("expected an error mentioning \"\(fragment)\"", file: file, line: line)
        } catch let e as FileError {
            XCTAssertEqual(e.file, path, file: file, line: line)
            XCTAssert(e.description.contains(fragment), "message \"\(e.description)\" lacks \"\(fragment)\"", file: file, line: line)
            XCTAssert(e.description.hasPrefix(path + ": "), "\(e.description)", file: file, line: line)
        } catch {
            XCTFail("unexpected error type \(type(of: error)): \(error)", file: file, line: line)
        }
    }
}
