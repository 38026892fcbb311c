import Datasets
import Foundation
import GraphIR
import Runtime
import XCTest
@testable import Training

/// `--check-numerics`: a NaN or an infinity in training, evaluation or feature extraction is an
/// error located at the op (and DSL line) that made it, with advice that fits the cause.
/// PyTorch's anomaly mode names the forward op whose backward failed with its traceback; TF's
/// `check_numerics` names the tensor; JAX's `debug_nans` re-runs the function op by op to find
/// the primitive: graphc re-runs the step op by op on the unfused model and names the op, its
/// value, the DSL line and whether the batch or the weights were already non-finite.
final class NumericsCheckTests: XCTestCase {
    /// A tiny classifier whose line 4 is `shifted` (the tests replace it).
    static func model(line4: String) -> String {
        """
        // A tiny classifier for the numerics tests.
        let image = input("image", [batch, 1, 28, 28])
        let label = input("label", [batch], .int64)
        \(line4)
        let head = Sequential {
            Flatten()
            Linear(10)
            LogSoftmax()
        }
        let logProbs = head(shifted)
        output("logProbs", logProbs)
        loss(nllLoss(logProbs, label))
        train(on: .fashionMNIST, metric: .accuracy, epochs: 1, batchSize: 4, lr: 0.01, optimizer: .sgd, seed: 1)
        """
    }

    func write(_ text: String, _ name: String, in dir: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The homework's npz layout; `poison` (split, flat pixel index) holds NaN.
    func data(in dir: String, poison: (split: String, index: Int)? = nil) throws -> String {
        var arrays: [(name: String, array: NPYArray)] = []
        for (split, n) in [("train", 8), ("dev", 4), ("test", 4)] {
            var pixels = (0..<(n * 784)).map { Double($0 % 256) / 256 }
            if let p = poison, p.split == split { pixels[p.index] = .nan }
            let labels = (0..<n).map { Int64($0 % 10) }
            arrays.append(("X" + split, NPYArray(dtype: .f64, shape: [n, 1, 28, 28], raw: pixels.withUnsafeBytes { Data($0) }, source: split)))
            arrays.append(("y" + split, NPYArray(dtype: .i64, shape: [n], raw: labels.withUnsafeBytes { Data($0) }, source: split)))
        }
        let path = dir + "/Fashion-MNIST.npz"
        try NPZWriter.write(arrays, to: path)
        return path
    }

    func train(_ model: String, data: String, out: String, lr: [Float]? = nil, mode: NumericsCheckMode = .auto,
               weights: String? = nil) throws {
        var options = TrainingOptions(out: out, data: data, weights: weights)
        options.checkNumerics = mode
        try TrainingJob.run(file: model, overrides: RecipeOverrides(learningRates: lr, threads: 1), options: options)
    }

    func testANaNPlantedInADSLLineIsFoundAtThatLine() throws {
        let dir = try TinyFashionMNIST.temporaryFolder(removedAfter: self)
        let model = try write(Self.model(line4: "let shifted = log(image - 2.0)"), "planted.swiftgraph", in: dir)
        let npz = try data(in: dir)
        XCTAssertThrowsError(try train(model, data: npz, out: dir + "/out")) { error in
            guard let d = error as? Diagnostic else { return XCTFail("not located: \(error)") }
            XCTAssertEqual(d.location, SourceLocation(file: model, line: 4, column: 15), d.render())
            XCTAssertEqual(d.sourceLine, "let shifted = log(image - 2.0)")
            let text = d.render()
            XCTAssertTrue(text.contains("log made"), text)
            XCTAssertTrue(text.contains("epoch 1, step 1"), text)
            XCTAssertTrue(text.contains("ranges over [-2.0, -1.0"), "the operand's range before log overwrote it in place: \(text)")
            XCTAssertTrue(text.contains("log needs values above 0"), text)
            XCTAssertFalse(text.contains("learning rate"), "the cause is the model's line, not the learning rate: \(text)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out/metrics.json"), "a diverged run writes no results")
    }

    func testTheSameLineIsFoundWithTheCheckOnlyOnANonFiniteLoss() throws {
        // `off` never checks; a sweep of one rate in `always` checks every step: both find nothing
        // different from `auto`, but `off` gives no location.
        let dir = try TinyFashionMNIST.temporaryFolder(removedAfter: self)
        let model = try write(Self.model(line4: "let shifted = log(image - 2.0)"), "planted.swiftgraph", in: dir)
        let npz = try data(in: dir)
        XCTAssertThrowsError(try train(model, data: npz, out: dir + "/a", mode: .always)) { error in
            XCTAssertEqual((error as? Diagnostic)?.location.line, 4, "\(error)")
        }
        XCTAssertThrowsError(try train(model, data: npz, out: dir + "/b", mode: .off)) { error in
            XCTAssertNil(error as? Diagnostic)
            XCTAssertTrue("\(error)".contains("--check-numerics auto"), "\(error)")
        }
    }

    func testNaNDataIsBlamedOnTheData() throws {
        let dir = try TinyFashionMNIST.temporaryFolder(removedAfter: self)
        let model = try write(Self.model(line4: "let shifted = image"), "clean.swiftgraph", in: dir)
        // Every training image is in the first batch of 4 or the second: poison all 8 images'
        // first pixel region by poisoning one pixel of each.
        var arrays: [(name: String, array: NPYArray)] = []
        for (split, n) in [("train", 8), ("dev", 4), ("test", 4)] {
            var pixels = (0..<(n * 784)).map { Double($0 % 256) / 256 }
            if split == "train" { for i in 0..<n { pixels[i * 784 + 100] = .nan } }
            arrays.append(("X" + split, NPYArray(dtype: .f64, shape: [n, 1, 28, 28], raw: pixels.withUnsafeBytes { Data($0) }, source: split)))
            arrays.append(("y" + split, NPYArray(dtype: .i64, shape: [n], raw: (0..<n).map { Int64($0) }.withUnsafeBytes { Data($0) }, source: split)))
        }
        let npz = dir + "/Fashion-MNIST.npz"
        try NPZWriter.write(arrays, to: npz)
        XCTAssertThrowsError(try train(model, data: npz, out: dir + "/out")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("input 'image'"), text)
            XCTAssertTrue(text.contains("data files hold NaN"), text)
            XCTAssertFalse(text.contains("learning rate"), text)
        }
    }

    func testNaNWeightsAtEvalAreAnError() throws {
        let dir = try TinyFashionMNIST.temporaryFolder(removedAfter: self)
        let model = try write(Self.model(line4: "let shifted = image"), "clean.swiftgraph", in: dir)
        let npz = try data(in: dir)
        let lowered = try ModelLoading.load(model)
        let store = ParameterStore()
        try store.initialise(from: lowered, seed: 1)
        let name = try XCTUnwrap(store.names.first)
        _ = store.update(name) { $0[3] = .infinity }
        let weights = dir + "/diverged.safetensors"
        try store.save(to: weights)
        XCTAssertThrowsError(try train(model, data: npz, out: dir + "/out", weights: weights)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(weights) && text.contains("'\(name)'") && text.contains("first inf at index 3"), text)
        }
    }

    func testAnEvaluationThatMakesNaNIsLocated() throws {
        let dir = try TinyFashionMNIST.temporaryFolder(removedAfter: self)
        // Finite weights, but the model takes the log of negative pixels: the evaluation is an
        // error at that line rather than `loss nan` with exit 0.
        let model = try write(Self.model(line4: "let shifted = log(image - 2.0)"), "planted.swiftgraph", in: dir)
        let npz = try data(in: dir)
        let store = ParameterStore()
        try store.initialise(from: try ModelLoading.load(model), seed: 1)
        let weights = dir + "/finite.safetensors"
        try store.save(to: weights)
        XCTAssertThrowsError(try train(model, data: npz, out: dir + "/out", weights: weights)) { error in
            guard let d = error as? Diagnostic else { return XCTFail("not located: \(error)") }
            XCTAssertEqual(d.location.line, 4)
            XCTAssertTrue(d.render().contains("log needs values above 0"), d.render())
        }
    }

    func testADivergedConfigurationOfASweepIsRecordedAndTheOthersKept() throws {
        let dir = try TinyFashionMNIST.temporaryFolder(removedAfter: self)
        let model = try write(Self.model(line4: "let shifted = image"), "clean.swiftgraph", in: dir)
        let npz = try data(in: dir)
        let out = dir + "/out"
        try train(model, data: npz, out: out, lr: [0.01, 1e38])
        let metrics = try JSONDecoder().decode(ClassifierReport.MetricsJSON.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/metrics.json")))
        XCTAssertEqual(metrics.configs.count, 2)
        XCTAssertNil(metrics.configs[0].diverged)
        XCTAssertEqual(metrics.best, metrics.configs[0].name, "the best is chosen among the finished configurations")
        let diverged = try XCTUnwrap(metrics.configs[1].diverged)
        XCTAssertTrue(diverged.contains("epoch 1, step 2") && diverged.contains(model + ":7:"), diverged)
        let report = try String(contentsOfFile: out + "/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("diverged (epoch 1, step 2)"), report)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/best.safetensors"))
    }

    func testASweepWhoseEveryConfigurationDivergedFailsWithTheLocatedError() throws {
        let dir = try TinyFashionMNIST.temporaryFolder(removedAfter: self)
        let model = try write(Self.model(line4: "let shifted = image"), "clean.swiftgraph", in: dir)
        let npz = try data(in: dir)
        XCTAssertThrowsError(try train(model, data: npz, out: dir + "/out", lr: [1e38, 3e38])) { error in
            XCTAssertEqual((error as? Diagnostic)?.location.line, 7, "\(error)")
            XCTAssertTrue("\(error)".contains("smaller learning rate"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/out/metrics.json"))
    }

    func testANaNPthWritesNoFeatures() throws {
        let dir = try TinyFashionMNIST.temporaryFolder(removedAfter: self)
        let images = dir + "/images"
        try FileManager.default.createDirectory(atPath: images, withIntermediateDirectories: true)
        try Q3Support.tiff(width: 8, height: 8, pixels: FeatureExtractionTests.pixels(seed: 1)).write(to: URL(fileURLWithPath: images + "/1.tif"))
        let encoder = try write(FeatureExtractionTests.encoderSource, "tiny_encoder.swiftgraph", in: dir)
        let pth = Q3Support.repository.appendingPathComponent("Tests/TrainingTests/Fixtures/tiny_encoder_nan.pth").path
        let out = dir + "/features.hdf5"
        XCTAssertThrowsError(try FeatureExtraction.run(encoderFile: encoder, weights: pth, images: images, out: out)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("tiny_encoder_nan.pth") && text.contains("'conv.weight'") && text.contains("first nan at index 0"), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "no NaN features written")
    }
}
