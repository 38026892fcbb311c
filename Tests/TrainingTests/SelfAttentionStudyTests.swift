import Datasets
import Foundation
import Runtime
import Training
import XCTest

/// `SelfAttentionStudy` (graphc --attention-study) on graphs/q1_attention.swiftgraph: related
/// heads agree, unrelated ones do not, A has rank d, and the files it writes run again with --run.
final class SelfAttentionStudyTests: XCTestCase {
    let file = ModelRunTests.graph("q1_attention")

    func testRelatedHeadsAgreeAndAHasRankD() throws {
        let r = try SelfAttentionStudy.run(file: file, seed: 7)
        XCTAssertEqual([r.L, r.n, r.d], [6, 8, 3])
        XCTAssertLessThan(r.related_max_difference, 1e-5)
        XCTAssertGreaterThan(r.unrelated_max_difference, 1e-2)
        for name in ["A1", "A2"] {
            let s = try XCTUnwrap(r.singular_values[name])
            XCTAssertEqual(s.count, 8)
            XCTAssertEqual(r.ranks[name], 3)
            XCTAssertGreaterThan(s[2], 1e-2)
            XCTAssertLessThan(s[3], 1e-5 * s[0])
        }
        // A2 = A1 when the heads are related: the same singular values.
        for (a, b) in zip(r.singular_values["A1"]!.prefix(3), r.singular_values["A2"]!.prefix(3)) { XCTAssertEqual(a, b, accuracy: 1e-4 * a) }
        XCTAssertEqual(r.b_singular_values.count, 3)
        XCTAssertGreaterThan(r.b_singular_values.last!, 0.1)
        XCTAssertEqual(r.p1_first_row.reduce(0, +), 1, accuracy: 1e-5)
        // B is not the identity: the heads' weights really differ.
        XCTAssertNotEqual(r.b[0][1], 0)
    }

    func testWrittenFilesRepeatTheRelatedRunThroughModelRun() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-study-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let r = try SelfAttentionStudy.run(file: file, seed: 11, out: dir)
        for f in [r.weights_file, r.inputs_file, r.outputs_file, "study.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + f), f)
        }
        let model = try ModelRun(file: file, weights: dir + "/" + r.weights_file)
        let feeds = try model.feeds(from: try RunInputs(specs: ["X=" + dir + "/" + r.inputs_file]), fillMissing: false, symbolSize: 1)
        let outputs = try model.run(feeds.tensors)
        let p1 = try XCTUnwrap(outputs.first { $0.name == "P1" }).value.floats
        let p2 = try XCTUnwrap(outputs.first { $0.name == "P2" }).value.floats
        XCTAssertEqual(p1.prefix(6).map(Double.init), r.p1_first_row)
        XCTAssertLessThan(zip(p1, p2).map { abs($0 - $1) }.max() ?? 1, 1e-5)
    }

    func testAModelWithoutTwoHeadsIsRefused() throws {
        XCTAssertThrowsError(try SelfAttentionStudy.run(file: ModelRunTests.graph("q1_cnn"))) { e in
            XCTAssertTrue("\(e)".contains("attention study needs"), "\(e)")
        }
    }
}
