import Foundation
import XCTest

/// `--dump-ir` prints stable IR; reading that text back (a .gir file) and printing it again
/// gives the same bytes, for every graph in graphs/ in both modes.
final class DumpIRCLITests: XCTestCase {
    func graphFiles() throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: CLI.repoRoot.appendingPathComponent("graphs").path)
        return names.filter { $0.hasSuffix(".swiftgraph") }.sorted().map { "graphs/" + $0 }
    }

    func testEveryGraphRoundTripsThroughIRText() throws {
        let dir = try CLI.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = try graphFiles()
        XCTAssertGreaterThanOrEqual(files.count, 7)
        for file in files {
            for mode in ["train", "infer"] {
                let first = try CLI.run([file, "--dump-ir", "--mode", mode])
                XCTAssertEqual(first.status, 0, "\(file) \(mode): \(first.stderr)")
                let gir = dir.appendingPathComponent((file as NSString).lastPathComponent + ".\(mode).gir")
                try first.stdout.write(to: gir, atomically: true, encoding: .utf8)
                let again = try CLI.run([gir.path, "--dump-ir", "--passes", "verify"])
                XCTAssertEqual(again.status, 0, "\(file) \(mode): \(again.stderr)")
                XCTAssertEqual(again.stdout, first.stdout, "\(file) \(mode): printing the parsed IR changed it")
            }
        }
    }

    func testAfterAllShowsEveryPassOfTheTrainingPipeline() throws {
        let r = try CLI.run(["graphs/cnn.swiftgraph", "--dump-ir", "--after", "all"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for pass in ["verify", "shape-inference", "constant-folding", "cse", "dce", "autodiff"] {
            XCTAssertTrue(r.stdout.contains("// IR after \(pass)\n"), pass)
        }
        let afterAutodiff = try CLI.run(["graphs/cnn.swiftgraph", "--dump-ir", "--after", "autodiff"])
        XCTAssertTrue(afterAutodiff.stdout.contains("output \"grad:convblock1.0.weight\""), afterAutodiff.stdout)
        XCTAssertTrue(afterAutodiff.stdout.contains("conv2d_grad_weight("), afterAutodiff.stdout)
    }

    func testUnknownPassIsAnErrorListingTheKnownOnes() throws {
        let r = try CLI.run(["graphs/cnn.swiftgraph", "--dump-ir", "--passes", "verify,inline"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("unknown pass 'inline'"), r.stderr)
        XCTAssertTrue(r.stderr.contains("cse"), r.stderr)
    }
}
