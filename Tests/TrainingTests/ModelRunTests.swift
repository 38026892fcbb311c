import Datasets
import Foundation
import GraphIR
import Runtime
import Training
import XCTest

/// `ModelRun` (graphc --run): outputs against a naive computation, the checks on inputs read
/// from files, random inputs, and the .npz it writes.
final class ModelRunTests: XCTestCase {
    static let graphs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("graphs")

    static func graph(_ name: String) -> String { graphs.appendingPathComponent(name + ".swiftgraph").path }

    var dir = ""

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("graphc-run-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        addTeardownBlock { [dir] in try? FileManager.default.removeItem(atPath: dir) }
    }

    /// Writes `values` as a .npy file of the given dtype and shape.
    func npy(_ name: String, _ dtype: NPYDType, _ shape: [Int], _ values: [Double]) throws -> String {
        let raw: Data
        switch dtype {
        case .f32: raw = values.map(Float.init).withUnsafeBytes { Data($0) }
        case .f64: raw = values.withUnsafeBytes { Data($0) }
        case .i64: raw = values.map { Int64($0) }.withUnsafeBytes { Data($0) }
        default: raw = Data(values.map { UInt8($0) })
        }
        let path = dir + "/" + name
        try NPYWriter.encode(NPYArray(dtype: dtype, shape: shape, raw: raw, source: name)).write(to: URL(fileURLWithPath: path))
        return path
    }

    func assertError(_ fragments: [String], file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { e in
            for f in fragments { XCTAssertTrue("\(e)".contains(f), "'\(e)' does not mention '\(f)'", file: file, line: line) }
        }
    }

    /// X [6, 8] with distinct values of both signs.
    let x: [Float] = (0..<48).map { Float(($0 * 37) % 23 - 11) / 10 }

    func testQ1AttentionMatchesANaiveComputation() throws {
        let model = try ModelRun(file: Self.graph("q1_attention"), seed: 3)
        XCTAssertEqual(model.threads, BLASInfo.defaultThreads, "without a thread count, a pool as wide as every core")
        XCTAssertEqual(model.inputs.map(\.name), ["X"])
        XCTAssertEqual(model.outputNames, ["P1", "P2", "A1", "A2"])
        let outputs = try model.run(["X": HostTensor(shape: [6, 8], floats: x)])
        XCTAssertEqual(outputs.map(\.name), model.outputNames)
        for head in 1...2 {
            let wq = try XCTUnwrap(model.parameters.get("head\(head).w_q")).floats
            let wk = try XCTUnwrap(model.parameters.get("head\(head).w_k")).floats
            // A = W_Q W_Kᵀ / sqrt(3), then P = softmax(X A Xᵀ) row by row, with plain loops.
            var a = [Float](repeating: 0, count: 64)
            for i in 0..<8 { for j in 0..<8 { for k in 0..<3 { a[i * 8 + j] += wq[i * 3 + k] * wk[j * 3 + k] } } }
            a = a.map { $0 / Float(3).squareRoot() }
            var p = [Float](repeating: 0, count: 36)
            for r in 0..<6 {
                var scores = [Float](repeating: 0, count: 6)
                for c in 0..<6 { for i in 0..<8 { for j in 0..<8 { scores[c] += x[r * 8 + i] * a[i * 8 + j] * x[c * 8 + j] } } }
                let top = scores.max() ?? 0
                let e = scores.map { exp($0 - top) }
                let sum = e.reduce(0, +)
                for c in 0..<6 { p[r * 6 + c] = e[c] / sum }
            }
            let gotA = try XCTUnwrap(outputs.first { $0.name == "A\(head)" }?.value)
            let gotP = try XCTUnwrap(outputs.first { $0.name == "P\(head)" }?.value)
            XCTAssertEqual(gotA.shape, [8, 8])
            XCTAssertEqual(gotP.shape, [6, 6])
            for (g, w) in zip(gotA.floats, a) { XCTAssertEqual(g, w, accuracy: 1e-5) }
            for (g, w) in zip(gotP.floats, p) { XCTAssertEqual(g, w, accuracy: 1e-5) }
        }
    }

    func testHeadsAgreeWhenTheSecondIsTheFirstTimesAnInvertibleMatrix() throws {
        // W_Q(2) = W_Q(1) B and W_K(2) = W_K(1) B⁻ᵀ give A(2) = A(1), so the same probabilities.
        let model = try ModelRun(file: Self.graph("q1_attention"), seed: 5)
        let b: [Float] = [2, 1, 0, 0, 1, 0, 1, 0, 1]            // det 2
        let bInvT: [Float] = [0.5, 0, -0.5, -0.5, 1, 0.5, 0, 0, 1]  // (B⁻¹)ᵀ
        func times(_ w: [Float], _ m: [Float]) -> [Float] {   // [8, 3] x [3, 3]
            var out = [Float](repeating: 0, count: 24)
            for r in 0..<8 { for c in 0..<3 { for k in 0..<3 { out[r * 3 + c] += w[r * 3 + k] * m[k * 3 + c] } } }
            return out
        }
        let wq = try XCTUnwrap(model.parameters.get("head1.w_q")).floats, wk = try XCTUnwrap(model.parameters.get("head1.w_k")).floats
        model.parameters.set("head2.w_q", HostTensor(shape: [8, 3], floats: times(wq, b)))
        model.parameters.set("head2.w_k", HostTensor(shape: [8, 3], floats: times(wk, bInvT)))
        let outputs = try model.run(["X": HostTensor(shape: [6, 8], floats: x)])
        let value = { (name: String) in outputs.first { $0.name == name }?.value.floats ?? [] }
        XCTAssertEqual(value("P1").count, 36)
        for (p1, p2) in zip(value("P1"), value("P2")) { XCTAssertEqual(p1, p2, accuracy: 1e-5) }
        for (a1, a2) in zip(value("A1"), value("A2")) { XCTAssertEqual(a1, a2, accuracy: 1e-5) }
    }

    func testWeightsFromASafetensorsCheckpoint() throws {
        let trained = try ModelRun(file: Self.graph("q1_attention"), seed: 11)
        let checkpoint = dir + "/q1.safetensors"
        try trained.parameters.save(to: checkpoint)
        let loaded = try ModelRun(file: Self.graph("q1_attention"), weights: checkpoint)
        XCTAssertEqual(loaded.weightsProvenance, "weights from \(checkpoint)")
        let feeds = ["X": HostTensor(shape: [6, 8], floats: x)]
        XCTAssertEqual(try loaded.run(feeds).map(\.value), try trained.run(feeds).map(\.value))
        XCTAssertNotEqual(try ModelRun(file: Self.graph("q1_attention"), seed: 12).run(feeds).map(\.value), try trained.run(feeds).map(\.value),
                          "another seed gives other weights")
        assertError(["--weights q1.bin", ".safetensors", ".pth"]) { _ = try ModelRun(file: Self.graph("q1_attention"), weights: "q1.bin") }
        let cnnWeights = dir + "/cnn.safetensors"
        try ModelRun(file: Self.graph("cnn")).parameters.save(to: cnnWeights)
        assertError([cnnWeights, "no tensor named 'head1.w_q'"]) { _ = try ModelRun(file: Self.graph("q1_attention"), weights: cnnWeights) }
    }

    func testInputsFromFilesAreCheckedByNameDtypeAndShape() throws {
        let q1 = try ModelRun(file: Self.graph("q1_attention"))
        let cnn = try ModelRun(file: Self.graph("cnn"))
        let good = try npy("X.npy", .f32, [6, 8], x.map(Double.init))
        XCTAssertEqual(try q1.feeds(from: RunInputs(specs: [good]), fillMissing: false).tensors["X"]?.floats, x)

        let short = try npy("short.npy", .f32, [5, 8], [Double](repeating: 0, count: 40))
        assertError(["input 'X' from \(short) has shape (5, 8)", "declares f32[6,8]", "dimension 0 must be 6, not 5"]) {
            _ = try q1.feeds(from: RunInputs(specs: ["X=" + short]), fillMissing: false)
        }
        let flat = try npy("flat.npy", .f32, [48], [Double](repeating: 0, count: 48))
        assertError(["input 'X'", "has shape (48,)", "(rank 2, not 1)"]) { _ = try q1.feeds(from: RunInputs(specs: ["X=" + flat]), fillMissing: false) }
        let doubles = try npy("doubles.npy", .f64, [6, 8], [Double](repeating: 0, count: 48))
        assertError(["input 'X'", "is float64(6, 8)", "declares f32[6,8]", "x.astype(np.float32)"]) {
            _ = try q1.feeds(from: RunInputs(specs: ["X=" + doubles]), fillMissing: false)
        }
        let extra = try npy("Y.npy", .f32, [2], [1, 2])
        assertError(["'Y' (from \(extra)) is not an input of", "its inputs are: X f32[6,8]"]) {
            _ = try q1.feeds(from: RunInputs(specs: [good, extra]), fillMissing: false)
        }
        assertError(["input 'X' is given twice", good, short]) { _ = try RunInputs(specs: [good, "X=" + short]) }
        assertError(["--inputs 'x.txt'", "FILE.npz"]) { _ = try RunInputs(specs: ["x.txt"]) }

        // cnn: image [B, 1, 28, 28] and label [B].
        let image = try npy("image.npy", .f32, [2, 1, 28, 28], [Double](repeating: 0.5, count: 2 * 784))
        assertError(["missing input 'label' (i64[B])", "the inputs of", "image f32[B,1,28,28], label i64[B]"]) {
            _ = try cnn.feeds(from: RunInputs(specs: [image]), fillMissing: false)
        }
        let labels = try npy("label.npy", .i64, [3], [1, 2, 3])
        assertError(["input 'label'", "has shape (3,), making B = 3, but input 'image' made B = 2"]) {
            _ = try cnn.feeds(from: RunInputs(specs: [image, labels]), fillMissing: false)
        }
        let floatLabels = try npy("fl.npy", .f32, [2], [1, 2])
        assertError(["input 'label'", "is float32(2,)", "x.astype(np.int64)"]) {
            _ = try cnn.feeds(from: RunInputs(specs: [image, "label=" + floatLabels]), fillMissing: false)
        }
    }

    func testTruncatedAndMalformedFilesAreErrorsBeforeAnythingIsAllocated() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: try npy("X.npy", .f32, [6, 8], x.map(Double.init))))
        let cut = dir + "/cut.npy"
        try good.prefix(good.count - 92).write(to: URL(fileURLWithPath: cut))
        assertError(["cut.npy", "truncated: shape (6, 8) of '<f4' needs 192 data bytes, found 100"]) { _ = try RunInputs(specs: ["X=" + cut]) }
        // A header claiming 2^62 elements: refused from the header, not by allocating.
        var huge = good
        let header = String(decoding: good[10..<128], as: UTF8.self)
        let claimed = header.replacingOccurrences(of: "(6, 8), ", with: "(4611686018427387904, 8), ")
        huge.replaceSubrange(10..<128, with: Data(claimed.utf8).prefix(118))
        let hugePath = dir + "/huge.npy"
        try huge.write(to: URL(fileURLWithPath: hugePath))
        assertError(["huge.npy", "too large"]) { _ = try RunInputs(specs: ["X=" + hugePath]) }
        assertError(["missing.npy", "no such file"]) { _ = try RunInputs(specs: ["X=" + dir + "/missing.npy"]) }
    }

    func testRunRefusesBadFeedsToo() throws {
        let q1 = try ModelRun(file: Self.graph("q1_attention"))
        assertError(["missing input 'X' (f32[6,8])"]) { _ = try q1.run([:]) }
        assertError(["input 'X' is i64(6, 8)", "declares f32[6,8]"]) { _ = try q1.run(["X": HostTensor(zeros: [6, 8], dtype: .i64)]) }
        assertError(["input 'X' has shape (8, 6)", "dimension 0 must be 6"]) { _ = try q1.run(["X": HostTensor(zeros: [8, 6])]) }
        assertError(["'Z' is not an input"]) { _ = try q1.run(["X": HostTensor(zeros: [6, 8]), "Z": HostTensor(zeros: [1])]) }
        assertError(["holds 47 values"]) { _ = try q1.run(["X": HostTensor(shape: [6, 8], floats: [Float](repeating: 0, count: 47))]) }
    }

    func testRandomInputsTakeTheGivenBatchAndTheIndexRange() throws {
        let cnn = try ModelRun(file: Self.graph("cnn"))
        let image = try npy("image.npy", .f32, [3, 1, 28, 28], [Double](repeating: 0.5, count: 3 * 784))
        let feeds = try cnn.feeds(from: RunInputs(specs: [image]), fillMissing: true)
        let label = try XCTUnwrap(feeds.tensors["label"])
        XCTAssertEqual(label.shape, [3], "the batch of the given image")
        XCTAssertTrue(label.ints.allSatisfy { (0..<10).contains($0) }, "\(label.ints)")
        XCTAssertEqual(feeds.random, ["label (3,) int64, uniform in 0..<10"])
        let outputs = try cnn.run(feeds.tensors)
        XCTAssertEqual(outputs.map(\.name), ["logProbs", "loss"])
        XCTAssertEqual(outputs[0].value.shape, [3, 10])

        let all = try cnn.feeds(from: RunInputs(), fillMissing: true, symbolSize: 4)
        XCTAssertEqual(all.tensors["image"]?.shape, [4, 1, 28, 28])
        XCTAssertEqual(try cnn.feeds(from: RunInputs(), fillMissing: true).tensors, try cnn.feeds(from: RunInputs(), fillMissing: true).tensors,
                       "the seed fixes the random inputs")

        let decoder = try ModelRun(file: Self.graph("caption_lstm"))
        XCTAssertEqual(decoder.indexBound(of: "start"), 190, "start ids index the 190-row embedding")
        XCTAssertEqual(decoder.indexBound(of: "features"), nil)

        // An integer input that indexes nothing has no range to draw from: ask for it.
        let model = dir + "/ints.swiftgraph"
        try """
            let x = input("x", [batch, 4])
            let k = input("k", [batch, 2], .int64)
            output("y", Linear(2)(x))
            output("k", transpose(k))
            """.write(toFile: model, atomically: true, encoding: .utf8)
        let ints = try ModelRun(file: model)
        assertError(["input 'k' (i64[B,2])", "cannot tell", "--inputs k=FILE.npy"]) { _ = try ints.feeds(from: RunInputs(), fillMissing: true) }
    }

    func testOutputsTableAndNPZ() throws {
        let q1 = try ModelRun(file: Self.graph("q1_attention"))
        let outputs = try q1.run(["X": HostTensor(shape: [6, 8], floats: x)])
        let table = ModelRun.table(outputs, firstValues: 3)
        let rows = table.split(separator: "\n")
        XCTAssertEqual(rows.count, 2 + 4)
        XCTAssertTrue(rows[0].contains("output") && rows[0].contains("first values"), table)
        let p1 = try XCTUnwrap(outputs.first).value.floats
        XCTAssertTrue(rows[2].hasPrefix("| P1 "), table)
        XCTAssertTrue(rows[2].contains(String(format: "%.6g, %.6g, %.6g, ...", p1[0], p1[1], p1[2])), table)
        XCTAssertTrue(rows[2].contains(" 0.166667 "), "each row of P sums to 1: the mean is 1/6\n\(table)")

        let path = dir + "/out.npz"
        try ModelRun.writeNPZ(outputs, to: path)
        let archive = try NPZArchive(path: path)
        XCTAssertEqual(archive.keys, ["P1", "P2", "A1", "A2"])
        for o in outputs {
            let a = try archive.array(o.name)
            XCTAssertEqual(a.dtype, .f32)
            XCTAssertEqual(a.shape, o.value.shape)
            XCTAssertEqual(a.floats(), o.value.floats)
        }

        let ints = ModelRun.table([ModelRun.Output(name: "words", value: HostTensor(shape: [2, 2], ints: [4, -1, 7, 2])),
                                   ModelRun.Output(name: "nan", value: HostTensor(shape: [2], floats: [1, .nan])),
                                   ModelRun.Output(name: "empty", value: HostTensor(shape: [0, 3], floats: []))])
        XCTAssertEqual(ints, """
            | output | shape  | dtype   | min | max | mean | first values |
            | ------ | ------ | ------- | --: | --: | ---: | ------------ |
            | words  | (2, 2) | int64   |  -1 |   7 |    3 | 4, -1, 7, 2  |
            | nan    | (2,)   | float32 | nan | nan |  nan | 1, nan       |
            | empty  | (0, 3) | float32 |   - |   - |    - |              |

            """)
    }
}
