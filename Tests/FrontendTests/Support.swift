import GraphIR
import XCTest
@testable import Frontend

/// Paths and helpers shared by the frontend tests.
enum Fixtures {
    static let repo: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/FrontendTests/Support.swift
        return parts.joined(separator: "/")
    }()
    static func graphPath(_ name: String) -> String { "\(repo)/graphs/\(name).swiftgraph" }
    static func source(_ name: String) throws -> String { try Frontend.readSource(graphPath(name)) }

    static func lower(_ name: String, mode: Mode = .train) throws -> (Graph, [LayerSummaryRow]) {
        try Frontend.lowerWithSummary(path: graphPath(name), options: FrontendOptions(mode: mode))
    }
}

extension Graph {
    /// Trainable parameter elements, computed from the nodes (buffers excluded).
    var trainableCount: Int {
        parameters.reduce(0) { n, v in
            self[v].attributes.bool("buffer") == true ? n : n + (self[v].type.shape.knownCount ?? 0)
        }
    }
    var bufferCount: Int {
        parameters.reduce(0) { n, v in
            self[v].attributes.bool("buffer") == true ? n + (self[v].type.shape.knownCount ?? 0) : n
        }
    }
    var parameterNames: [String] { parameters.compactMap { self[$0].name } }
    func parameterType(_ name: String) -> TensorType? { parameter(named: name).map { type(of: $0) } }
}

/// Lowers `source` expecting a diagnostic; returns it (fails the test if none).
func expectDiagnostic(_ source: String, file: StaticString = #filePath, line: UInt = #line,
                      mode: Mode = .train) -> Diagnostic? {
    do {
        _ = try Frontend.lower(source: source, file: "bad.swiftgraph", options: FrontendOptions(mode: mode))
        XCTFail("expected a diagnostic, the program lowered", file: file, line: line)
    } catch let d as Diagnostic {
        return d
    } catch {
        XCTFail("expected a Diagnostic, got \(error)", file: file, line: line)
    }
    return nil
}
