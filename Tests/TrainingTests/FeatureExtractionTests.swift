import Datasets
import Foundation
import Passes
import Runtime
import XCTest
@testable import Training

/// --extract-features on tiny TIFFs written here, through a tiny encoder (conv 3->4 stride 2 +
/// BatchNorm + ReLU on 8x8 images: 16 regions x 4), against a hand-written convolution.
final class FeatureExtractionTests: XCTestCase {
    static let encoderSource = """
        let image = input("image", [batch, 3, 8, 8])
        let conv = Conv2d(4, kernel: 3, stride: 2, padding: 1, bias: false)
        let bn = BatchNorm2d()
        output("features", relu(bn(conv(image))))
        """

    /// The values of Fixtures/make_tiny_encoder_pth.py.
    static let conv: [Float] = (0..<108).map { Float(0.01) * Float($0 % 13 - 6) }
    static let bn: (w: [Float], b: [Float], m: [Float], v: [Float]) = (
        (0..<4).map { 1 + 0.1 * Float($0) }, (0..<4).map { 0.05 * Float($0) },
        (0..<4).map { 0.02 * Float($0) }, (0..<4).map { 1 + 0.5 * Float($0) })

    static func pixels(seed: Int) -> [UInt8] { (0..<(8 * 8 * 3)).map { UInt8((($0 * 37 + seed * 101) % 256)) } }

    /// Expected features, region-major [16, 4]: ToTensor + ImageNet Normalize, conv, BN (eval), ReLU.
    static func expected(_ px: [UInt8]) -> [Float] {
        let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
        func x(_ c: Int, _ y: Int, _ xx: Int) -> Float {
            guard y >= 0, y < 8, xx >= 0, xx < 8 else { return 0 }
            return (Float(px[(y * 8 + xx) * 3 + c]) / 255 - mean[c]) / std[c]
        }
        var out = [Float](repeating: 0, count: 16 * 4)
        for o in 0..<4 {
            for oy in 0..<4 {
                for ox in 0..<4 {
                    var s: Float = 0
                    for c in 0..<3 { for ky in 0..<3 { for kx in 0..<3 {
                        s += conv[((o * 3 + c) * 3 + ky) * 3 + kx] * x(c, oy * 2 - 1 + ky, ox * 2 - 1 + kx)
                    } } }
                    let n = (s - bn.m[o]) / (bn.v[o] + 1e-5).squareRoot() * bn.w[o] + bn.b[o]
                    out[(oy * 4 + ox) * 4 + o] = max(0, n)
                }
            }
        }
        return out
    }

    /// A folder with 1.tif and 3.tif (so row 1 has no image), a non-image and a stray file.
    func makeFolder() throws -> (dir: URL, encoder: String) {
        let dir = try temporaryDirectory("extract")
        let images = dir.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try Q3Support.tiff(width: 8, height: 8, pixels: Self.pixels(seed: 1)).write(to: images.appendingPathComponent("1.tif"))
        try Q3Support.tiff(width: 8, height: 8, pixels: Self.pixels(seed: 3)).write(to: images.appendingPathComponent("3.tif"))
        try Data("notes".utf8).write(to: images.appendingPathComponent("README.txt"))
        let encoder = dir.appendingPathComponent("tiny_encoder.swiftgraph")
        try Self.encoderSource.write(to: encoder, atomically: true, encoding: .utf8)
        return (dir, encoder.path)
    }

    var pth: String { Q3Support.repository.appendingPathComponent("Tests/TrainingTests/Fixtures/tiny_encoder.pth").path }

    func testExtractsRowsInTheHomeworkLayoutFromAPthCheckpoint() throws {
        let (dir, encoder) = try makeFolder()
        let out = dir.appendingPathComponent("features/all.hdf5").path
        try FeatureExtraction.run(encoderFile: encoder, weights: pth, images: dir.appendingPathComponent("images").path, out: out)
        let f = try HDF5Features.read(path: out)
        XCTAssertEqual([f.count, f.regions, f.dim], [3, 16, 4])
        let rowSize = 64
        for (row, seed) in [(0, 1), (2, 3)] {
            let got = Array(f.features[(row * rowSize)..<((row + 1) * rowSize)])
            for (g, e) in zip(got, Self.expected(Self.pixels(seed: seed))) { XCTAssertEqual(g, e, accuracy: 1e-5) }
        }
        XCTAssertEqual(Array(f.features[rowSize..<(2 * rowSize)]), [Float](repeating: 0, count: rowSize), "row 1 has no image")
        let summary = try XCTUnwrap(FeatureExtraction.summary(of: out))
        XCTAssertTrue(summary.pretrained)
        XCTAssertEqual(summary.images, 2)
    }

    func testLimitEncodesTheFirstImagesAndKeepsEveryRow() throws {
        let (dir, encoder) = try makeFolder()
        let out = dir.appendingPathComponent("limited.hdf5").path
        let log = CollectingReporter()
        try FeatureExtraction.run(encoderFile: encoder, weights: pth, images: dir.appendingPathComponent("images").path, out: out, limit: 1, reporter: log)
        let f = try HDF5Features.read(path: out)
        XCTAssertEqual(f.count, 3, "rows for every image of the folder, so the file still fits the dataset")
        let rowSize = 64
        for (g, e) in zip(f.features[0..<rowSize], Self.expected(Self.pixels(seed: 1))) { XCTAssertEqual(g, e, accuracy: 1e-5) }
        XCTAssertEqual(Array(f.features[(2 * rowSize)...]), [Float](repeating: 0, count: rowSize), "3.tif is beyond the limit")
        XCTAssertEqual(try XCTUnwrap(FeatureExtraction.summary(of: out)).images, 1)
        XCTAssertTrue(log.logLines.contains { $0.contains("--limit 1: the rows of the other 1 images stay zero") }, "\(log.logLines)")
    }

    func testSafetensorsWeightsGiveTheSameFeatures() throws {
        let (dir, encoder) = try makeFolder()
        let store = ParameterStore()
        store.set("conv.weight", HostTensor(shape: [4, 3, 3, 3], floats: Self.conv))
        store.set("bn.weight", HostTensor(shape: [4], floats: Self.bn.w))
        store.set("bn.bias", HostTensor(shape: [4], floats: Self.bn.b))
        store.set("bn.running_mean", HostTensor(shape: [4], floats: Self.bn.m))
        store.set("bn.running_var", HostTensor(shape: [4], floats: Self.bn.v))
        let weights = dir.appendingPathComponent("w.safetensors").path
        try store.save(to: weights)
        let e = try FeatureEncoder(file: encoder, weights: weights, seed: 0, threads: nil)
        let f = try e.encode(path: dir.appendingPathComponent("images/3.tif").path)
        XCTAssertEqual(f.regions, 16)
        for (g, x) in zip(f.values, Self.expected(Self.pixels(seed: 3))) { XCTAssertEqual(g, x, accuracy: 1e-5) }
        // Without a thread count, every core, as training: a pool as wide as OpenBLAS's own count.
        XCTAssertEqual(e.executor.pool.width, BLASInfo.defaultThreads)
        // Given one, that many, with the same features.
        let one = try FeatureEncoder(file: encoder, weights: weights, seed: 0, threads: 1)
        XCTAssertEqual(one.executor.pool.width, 1)
        for (a, b) in zip(try one.encode(path: dir.appendingPathComponent("images/3.tif").path).values, f.values) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testBadImagesStopOrAreSkipped() throws {
        let (dir, encoder) = try makeFolder()
        let images = dir.appendingPathComponent("images")
        try Data("not a tiff at all".utf8).write(to: images.appendingPathComponent("2.tif"))
        try Q3Support.tiff(width: 4, height: 4, pixels: [UInt8](repeating: 9, count: 48)).write(to: images.appendingPathComponent("4.tif"))
        let out = dir.appendingPathComponent("f.hdf5").path
        XCTAssertThrowsError(try FeatureExtraction.run(encoderFile: encoder, weights: pth, images: images.path, out: out)) { e in
            XCTAssertTrue("\(e)".contains("2.tif"), "\(e)")
            XCTAssertTrue("\(e)".contains("--on-bad-image skip"), "\(e)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a stopped run writes no features file")

        let log = CollectingReporter()
        try FeatureExtraction.run(encoderFile: encoder, weights: pth, images: images.path, out: out, policy: .skip,
                                  passes: PassOptions(verifyEach: true), reporter: log)
        XCTAssertEqual(log.compilations.map(\.label), ["encoder"])
        XCTAssertEqual(log.compilations.first?.context.options.verifyEach, true, "the pass options reach the encoder's pipeline")
        XCTAssertEqual(log.logLines.filter { $0.hasPrefix("skipped: ") }.count, 2, "\(log.logLines)")
        let summary = try XCTUnwrap(FeatureExtraction.summary(of: out))
        XCTAssertEqual(summary.skipped, ["2.tif", "4.tif"])
        let f = try HDF5Features.read(path: out)
        XCTAssertEqual(f.count, 4)
        XCTAssertEqual(Array(f.features[(3 * 64)..<(4 * 64)]), [Float](repeating: 0, count: 64))

        let encoderOnly = try FeatureEncoder(file: encoder, weights: pth, seed: 0, threads: nil)
        XCTAssertThrowsError(try encoderOnly.encode(path: images.appendingPathComponent("4.tif").path)) { e in
            XCTAssertTrue("\(e)".contains("4x4") && "\(e)".contains("8x8"), "\(e)")
        }
    }

    func testSeededInitialisationIsTorchvisionsAndSaysSo() throws {
        let (_, encoder) = try makeFolder()
        let a = try FeatureEncoder(file: encoder, weights: nil, seed: 5, threads: nil)
        let b = try FeatureEncoder(file: encoder, weights: nil, seed: 5, threads: nil)
        XCTAssertFalse(a.pretrained)
        XCTAssertTrue(a.provenance.contains("NOT pretrained"))
        let w = try XCTUnwrap(a.store.get("conv.weight")).floats
        XCTAssertEqual(w, try XCTUnwrap(b.store.get("conv.weight")).floats, "same seed, same weights")
        // kaiming_normal_(mode="fan_out", nonlinearity="relu"): std = sqrt(2 / (4 * 3 * 3)) = 0.2357;
        // PyTorch's default (uniform, bound 1/sqrt(27) = 0.19) would have std 0.11.
        let std = (w.map { Double($0 * $0) }.reduce(0, +) / Double(w.count)).squareRoot()
        XCTAssertEqual(std, (2.0 / 36).squareRoot(), accuracy: 0.05)
        XCTAssertEqual(try XCTUnwrap(a.store.get("bn.running_var")).floats, [1, 1, 1, 1])
        XCTAssertEqual(try XCTUnwrap(a.store.get("bn.weight")).floats, [1, 1, 1, 1])
    }

    func testFolderProblems() throws {
        let (dir, encoder) = try makeFolder()
        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        XCTAssertThrowsError(try FeatureExtraction.imageList(directory: empty.path)) { XCTAssertTrue("\($0)".contains("no images named")) }
        XCTAssertThrowsError(try FeatureExtraction.imageList(directory: dir.appendingPathComponent("nope").path)) { XCTAssertTrue("\($0)".contains("no such folder")) }
        XCTAssertEqual(try FeatureExtraction.imageList(directory: dir.appendingPathComponent("images").path).ignored, ["README.txt"])
        XCTAssertThrowsError(try FeatureEncoder(file: encoder, weights: dir.appendingPathComponent("missing.pth").path, seed: 0, threads: nil))
        XCTAssertEqual(FeatureExtraction.outputPath("results"), "results/all_features.hdf5")
        XCTAssertEqual(FeatureExtraction.outputPath("x/f.h5"), "x/f.h5")
    }

    /// `--profile`: a blocked encoder's packed weights and folded BatchNorm are computed once,
    /// not in the per-image runs, and the memory plan counts the bytes they keep.
    func testProfileShowsValuesComputedOnce() throws {
        let (dir, _) = try makeFolder()
        let encoder = dir.appendingPathComponent("blocked_encoder.swiftgraph")
        try """
        let image = input("image", [batch, 3, 8, 8])
        let conv = Conv2d(16, kernel: 3, stride: 2, padding: 1, bias: false)
        let bn = BatchNorm2d()
        output("features", relu(bn(conv(image))))
        """.write(to: encoder, atomically: true, encoding: .utf8)
        let log = CollectingReporter()
        try FeatureExtraction.run(encoderFile: encoder.path, weights: nil, threads: 1, images: dir.appendingPathComponent("images").path,
                                  out: dir.appendingPathComponent("f.hdf5").path, profile: true, reporter: log)
        let lines = log.logLines.flatMap { $0.split(separator: "\n").map(String.init) }
        XCTAssertTrue(lines.contains { $0.hasPrefix("profile: encoding images; 2 runs") }, "\(lines)")
        XCTAssertTrue(lines.contains { $0.contains("blocked_conv2d") })
        let once = try XCTUnwrap(lines.first { $0.contains("computed once from parameters, not in the runs above") }, "\(lines)")
        XCTAssertTrue(once.contains("1× pack_conv_weight") && once.contains("computed 1 time,"), once)
        XCTAssertFalse(lines.contains { $0.contains("pack_conv_weight") && !$0.contains("computed once") }, "not a per-run kernel")
        let plan = try XCTUnwrap(lines.first { $0.hasPrefix("memory plan:") })
        XCTAssertTrue(plan.contains("computed once from parameters 0.0"), plan)
    }
}
