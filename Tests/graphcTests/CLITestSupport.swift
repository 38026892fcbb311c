import Foundation
import XCTest

/// Runs the `graphc` executable (or another of the package's programs) SwiftPM built beside the
/// test bundle.
enum CLI {
    static var repoRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var binary: URL { executable("graphc") }

    static func executable(_ name: String) -> URL {
        // The test bundle sits in the build products folder, next to the executables.
        var dir = Bundle(for: Marker.self).bundleURL
        if dir.pathExtension == "xctest" { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent(name)
    }

    final class Marker {}

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs graphc (or `program`) with `arguments` from the repository root (so `graphs/...`
    /// paths work).
    static func run(_ arguments: [String], stdin: String? = nil, program: String = "graphc") throws -> Result {
        try launch(executable(program), arguments)
    }

    /// Runs `executable` with `arguments` from the repository root, its environment this
    /// process's plus `overrides`, and collects its exit status and output.
    static func launch(_ executable: URL, _ arguments: [String], environment overrides: [String: String] = [:]) throws -> Result {
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        p.currentDirectoryURL = repoRoot
        // Tests never read or write the user's tuning cache (~/.cache/graphc/tuning.json).
        var environment = ProcessInfo.processInfo.environment
        if environment["GRAPHC_TUNING_CACHE"] == nil { environment["GRAPHC_TUNING_CACHE"] = tuningCache.path }
        for (k, v) in overrides { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes before waiting so a large output cannot block the child.
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// One tuning cache for this test process's runs, in the temporary folder.
    static let tuningCache = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-tests-tuning-\(ProcessInfo.processInfo.processIdentifier).json")

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}
