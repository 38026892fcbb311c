import Datasets
import Foundation
import Frontend
import GraphIR
import Passes
import Runtime
import XCTest
@testable import Training

/// `--train` on the real caption graphs shrunk (4 regions x 8 features, small LSTM) over a few
/// Sydney-Captions captions with random features; skips without the shared data folder.
final class CaptioningTrainingTests: XCTestCase {
    let shrink = [("encoderDim = 512", "encoderDim = 8"), ("[batch, 256, encoderDim]", "[batch, 4, encoderDim]"),
                  ("decoderDim = 256", "decoderDim = 16"), ("embedDim = 100", "embedDim = 8")]

    struct Setup { var dir: URL; var model: String; var features: String; var data: String }

    func setup(_ graph: String, rows: Int = 613) throws -> Setup {
        let data = Q3Support.sharedData
        guard FileManager.default.fileExists(atPath: data + "/datasets/train.json") else { throw XCTSkip("no Sydney-Captions at \(data)") }
        let dir = try temporaryDirectory("captions")
        var source = try Q3Support.graphSource(graph)
        for (from, to) in shrink {
            XCTAssertTrue(source.contains(from), "graphs/\(graph) no longer contains \(from)")
            source = source.replacingOccurrences(of: from, with: to)
        }
        let model = dir.appendingPathComponent(graph)
        try source.write(to: model, atomically: true, encoding: .utf8)
        let stepName = graph.replacingOccurrences(of: ".swiftgraph", with: "_step.swiftgraph")
        var step = try Q3Support.graphSource(stepName)
        for (from, to) in shrink { step = step.replacingOccurrences(of: from, with: to) }
        try step.write(to: dir.appendingPathComponent(stepName), atomically: true, encoding: .utf8)
        let random = RandomSource(seed: 3)
        let features = dir.appendingPathComponent("features.hdf5").path
        try HDF5Features.write(path: features, features: (0..<(rows * 32)).map { _ in random.nextFloat() }, count: rows, regions: 4, dim: 8)
        return Setup(dir: dir, model: model.path, features: features, data: data)
    }

    /// Trains on one thread with the setup's data and features, writing to `results` in its folder.
    func train(_ s: Setup, limit: Int, _ overrides: RecipeOverrides = RecipeOverrides(), dropout: Double? = nil, beam: Int = 1) throws -> URL {
        let out = s.dir.appendingPathComponent("results")
        var recipe = overrides
        recipe.threads = 1
        try TrainingJob.run(file: s.model, overrides: recipe,
                            options: TrainingOptions(out: out.path, passes: PassOptions(dropout: dropout, verifyEach: true), data: s.data, limit: limit,
                                                     features: s.features, beam: beam))
        return out
    }

    func json(_ url: URL) throws -> Any { try JSONSerialization.jsonObject(with: Data(contentsOf: url)) }

    func testAttentionDecoderWritesCaptionsMetricsAndReport() throws {
        let s = try setup("caption_attention.swiftgraph")
        let out = try train(s, limit: 16, RecipeOverrides(epochs: 1))
        let caps = try XCTUnwrap(json(out.appendingPathComponent("caps_generated_enc_dec_w_attention.json")) as? [[String: Any]])
        let test = try CaptionsEval.load(path: s.data + "/datasets/test.json")
        XCTAssertEqual(caps.compactMap { $0["image_name"] as? String }, Array(test.imageNames.prefix(16)))
        for c in caps {
            let tokens = try XCTUnwrap(c["caption"] as? [String])
            XCTAssertLessThanOrEqual(tokens.count, 22)
            XCTAssertFalse(tokens.contains("<end_seq>"), "captions stop before <end_seq>")
        }
        let folder = out.appendingPathComponent("enc_dec_w_attention")
        let metrics = try XCTUnwrap(json(folder.appendingPathComponent("metrics.json")) as? [String: Any])
        let loss = try XCTUnwrap(metrics["train_loss"] as? [Double])
        XCTAssertEqual(loss.count, 1)
        // Two steps from the initialisation: about ln(190) = 5.25.
        XCTAssertEqual(loss[0], log(190.0), accuracy: 0.5)
        let bleu = try XCTUnwrap(metrics["val_bleu4"] as? [Double])
        XCTAssertTrue(bleu.count == 1 && bleu[0] >= 0 && bleu[0] <= 1)
        let testBleu = try XCTUnwrap(metrics["test_bleu4"] as? Double)
        // What bench/caption_bench.sh reads: the epoch's training and validation-decoding seconds, threads and OpenBLAS core.
        let epoch = try XCTUnwrap((metrics["epochs"] as? [[String: Any]])?.first)
        XCTAssertGreaterThan(try XCTUnwrap(epoch["seconds"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(epoch["decode_seconds"] as? Double), 0)
        let settings = try XCTUnwrap(metrics["settings"] as? [String: String])
        XCTAssertEqual(settings["threads"], "1")
        XCTAssertEqual(settings["blas_core"], BLASInfo.coreName)
        // The captions file scores the same through --bleu (its own refs restricted to those images).
        let refs = s.dir.appendingPathComponent("refs.json")
        let first = Array(test.imageNames.prefix(16))
        try JSONSerialization.data(withJSONObject: ["images_names": first, "all_refs": test.refs.filter { first.contains($0.key) }]).write(to: refs)
        let rescored = try BleuScoring.score(captions: out.appendingPathComponent("caps_generated_enc_dec_w_attention.json").path, refs: refs.path)
        XCTAssertEqual(rescored.meanSentence, testBleu, accuracy: 1e-12)
        for name in ["report.md", "train_loss.png", "val_bleu4.png", "219.png", "540.png", "357.png", "219_attention.png", "decoder.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path), name)
        }
        let report = try String(contentsOf: folder.appendingPathComponent("report.md"), encoding: .utf8)
        XCTAssertTrue(report.contains("![219.tif](219.png)") && report.contains("357_attention.png"))

        let eval = TrainingOptions(out: s.dir.appendingPathComponent("eval").path, data: s.data, limit: 4, features: s.features,
                                   weights: folder.appendingPathComponent("decoder.safetensors").path)
        let log = CollectingReporter()
        XCTAssertNoThrow(try TrainingJob.run(file: s.model, options: eval, reporter: log))
        XCTAssertTrue(log.resultLines.contains { $0.hasPrefix("val BLEU-4 ") }, "\(log.resultLines)")

        // The showcase captions beside the report, as the homework page reads them.
        let showcase = try XCTUnwrap(json(folder.appendingPathComponent("showcase.json")) as? [String: String])
        XCTAssertEqual(Set(showcase.keys), ["219.tif", "540.tif", "357.tif"])
        XCTAssertTrue(report.contains(try XCTUnwrap(showcase["219.tif"])))
    }

    /// The homework's download without the preprocessed splits: an error naming the files to add.
    func testDataFolderWithoutItsSplitsSaysWhatIsMissing() throws {
        let s = try setup("caption_lstm.swiftgraph")
        let data = s.dir.appendingPathComponent("download")
        try FileManager.default.createDirectory(at: data.appendingPathComponent("images"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: s.data + "/dataset.json", toPath: data.appendingPathComponent("dataset.json").path)
        XCTAssertThrowsError(try TrainingJob.run(file: s.model, options: TrainingOptions(out: s.dir.appendingPathComponent("r").path, data: data.path,
                                                                                      limit: 4, features: s.features))) { e in
            XCTAssertTrue("\(e)".contains("has dataset.json but no datasets/ folder"), "\(e)")
            XCTAssertTrue("\(e)".contains("vocab_info.json"), "\(e)")
        }
    }

    /// `--eval --beam 3` into another folder: the beam's scores and captions beside the greedy run's.
    func testEvaluationWithBeamWritesItsScoresAndCaptions() throws {
        let s = try setup("caption_attention.swiftgraph")
        let out = try train(s, limit: 8, RecipeOverrides(epochs: 1))
        let weights = out.appendingPathComponent("enc_dec_w_attention/decoder.safetensors").path
        let beamOut = s.dir.appendingPathComponent("beam3")
        try TrainingJob.run(file: s.model, overrides: RecipeOverrides(threads: 1),
                         options: TrainingOptions(out: beamOut.path, data: s.data, limit: 8, features: s.features, beam: 3, weights: weights))
        let e = try JSONDecoder().decode(CaptioningTraining.Evaluation.self,
                                         from: Data(contentsOf: beamOut.appendingPathComponent("enc_dec_w_attention/evaluation.json")))
        XCTAssertEqual(e.decoding, "beam 3")
        XCTAssertEqual(e.weights, weights)
        XCTAssertEqual(e.test_images, 8)
        XCTAssertTrue((0...1).contains(e.test_bleu4) && (0...1).contains(e.val_bleu4))
        XCTAssertEqual(Set(e.showcase.keys), ["219.tif", "540.tif", "357.tif"], "decoded even when --limit leaves them out of the test split")
        let caps = try XCTUnwrap(json(beamOut.appendingPathComponent("caps_generated_enc_dec_w_attention.json")) as? [[String: Any]])
        XCTAssertEqual(caps.count, 8)
        let rescored = try BleuScoring.scores(references: Array(try CaptionsEval.load(path: s.data + "/datasets/test.json").orderedRefs.prefix(8)),
                                              hypotheses: caps.map { $0["caption"] as? [String] ?? [] })
        XCTAssertEqual(rescored.meanSentence, e.test_bleu4, accuracy: 1e-12)
        // The greedy run's own files are untouched.
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("enc_dec_w_attention/evaluation.json").path))
    }

    /// `--fusion off` (bench/caption_bench.sh UNFUSED=1) reaches caption training: no fused kernels in its graph.
    func testFusionOffLeavesTheTrainingGraphUnfused() throws {
        let s = try setup("caption_lstm.swiftgraph")
        func trainingIR(fusion: Bool) throws -> String {
            let options = TrainingOptions(passes: PassOptions(fusion: fusion), data: s.data, limit: 8, features: s.features)
            let lowered = try ModelLoading.load(s.model, options: FrontendOptions(mode: .train))
            let run = CaptioningTraining(file: s.model, lowered: lowered, recipe: try Recipe(graph: lowered, passes: options.passes), options: options,
                                         reporter: SilentReporter())
            return IRPrinter.print(try run.prepare().training, locations: false)
        }
        XCTAssertTrue(try trainingIR(fusion: true).contains("fused_"), "the default pipeline fuses the LSTM gates")
        XCTAssertFalse(try trainingIR(fusion: false).contains("fused_"))
    }

    /// The vanilla decoder differentiates its cells with lstm_cell_grad (lstm-cells before
    /// autodiff), and a short run's losses are those of the graph without it (the gate math's
    /// elementwise gradients: lstm-cell fusion left out) within float tolerance.
    func testCellBackwardOpTrainsAsTheElementwiseGradients() throws {
        let s = try setup("caption_lstm.swiftgraph")
        func losses(_ passes: PassOptions, _ folder: String) throws -> [Double] {
            let out = s.dir.appendingPathComponent(folder)
            try TrainingJob.run(file: s.model, overrides: RecipeOverrides(epochs: 3, learningRates: [0.01], threads: 1),
                                options: TrainingOptions(out: out.path, passes: passes, data: s.data, limit: 16, features: s.features))
            let metrics = try XCTUnwrap(json(out.appendingPathComponent("enc_dec/metrics.json")) as? [String: Any])
            return try XCTUnwrap(metrics["train_loss"] as? [Double])
        }
        var elementwise = PassOptions(dropout: 0)
        elementwise.disabledFusions = [.lstmCell]
        let options = TrainingOptions(passes: PassOptions(dropout: 0), data: s.data, limit: 8, features: s.features)
        let lowered = try ModelLoading.load(s.model, options: FrontendOptions(mode: .train))
        let run = CaptioningTraining(file: s.model, lowered: lowered, recipe: try Recipe(graph: lowered, passes: options.passes), options: options,
                                     reporter: SilentReporter())
        let training = try run.prepare().training
        XCTAssertEqual(training.nodes.filter { $0.op == .lstmCellGrad }.count, 21)
        XCTAssertEqual(training.nodes.filter { $0.op == .lstmCellStateGrad }.count, 21, "initC is trained through the first cell")
        XCTAssertEqual(training.nodes.filter { $0.op == .lstmCellGrad && $0.inputs.count == 4 }.count, 20,
                       "every step but the last (whose c' nothing reads) takes dh and dc'")
        let (new, old) = (try losses(PassOptions(dropout: 0), "new"), try losses(elementwise, "old"))
        XCTAssertEqual(new.count, 3)
        for (a, b) in zip(new, old) { XCTAssertEqual(a, b, accuracy: 1e-4 * max(1, abs(b)), "\(new) vs \(old)") }
    }

    func testVanillaDecoderLearns() throws {
        let s = try setup("caption_lstm.swiftgraph")
        let out = try train(s, limit: 8, RecipeOverrides(epochs: 8, learningRates: [0.05]), dropout: 0)
        let metrics = try XCTUnwrap(json(out.appendingPathComponent("enc_dec/metrics.json")) as? [String: Any])
        let loss = try XCTUnwrap(metrics["train_loss"] as? [Double])
        XCTAssertEqual(loss.count, 8)
        XCTAssertLessThan(loss[7], loss[0] - 1, "eight epochs on one batch of 8 captions must lower the loss: \(loss)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent("caps_generated_enc_dec.json").path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("enc_dec/219_attention.png").path))
    }

    func testMissingFeatureRowsAndBrokenDataAreClearErrors() throws {
        let s = try setup("caption_lstm.swiftgraph", rows: 100)
        XCTAssertThrowsError(try train(s, limit: 8, RecipeOverrides(epochs: 1))) { e in
            XCTAssertTrue("\(e)".contains("100 rows") && "\(e)".contains("needs row"), "\(e)")
        }
        // A copy of the data folder with a broken train.json (images linked, not copied).
        let data = s.dir.appendingPathComponent("data")
        let splits = data.appendingPathComponent("datasets")
        try FileManager.default.createDirectory(at: splits, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: s.data + "/dataset.json", toPath: data.appendingPathComponent("dataset.json").path)
        try FileManager.default.createSymbolicLink(atPath: data.appendingPathComponent("images").path, withDestinationPath: s.data + "/images")
        for f in ["val.json", "test.json", "vocab_info.json"] {
            try FileManager.default.copyItem(atPath: s.data + "/datasets/" + f, toPath: splits.appendingPathComponent(f).path)
        }
        try Data("{\"images_names\": [\"1.tif\"], \"captions_tokens\": [[\"<start_seq>\", ".utf8).write(to: splits.appendingPathComponent("train.json"))
        let broken = Setup(dir: s.dir, model: s.model, features: s.features, data: data.path)
        XCTAssertThrowsError(try train(broken, limit: 8)) { e in XCTAssertTrue("\(e)".contains("train.json"), "\(e)") }

        XCTAssertThrowsError(try CaptioningFeatures.checkOutside(cache: data.appendingPathComponent("cache").path, data: data.path))
        XCTAssertNoThrow(try CaptioningFeatures.checkOutside(cache: s.dir.appendingPathComponent("cache").path, data: data.path))
        let noData = TrainingOptions(out: s.dir.appendingPathComponent("results").path, data: s.dir.appendingPathComponent("none").path)
        XCTAssertThrowsError(try TrainingJob.run(file: s.model, options: noData)) { XCTAssertTrue("\($0)".contains("not found"), "\($0)") }
    }

    /// Beam search over the step graph: width 1 reproduces the unrolled greedy graph word for
    /// word (and its attention maps); a wider beam runs through training and the report.
    func testBeamOfWidthOneIsGreedyAndWiderBeamsRun() throws {
        let s = try setup("caption_attention.swiftgraph")
        let out = try train(s, limit: 16, RecipeOverrides(epochs: 2, learningRates: [0.01]), beam: 3)
        let folder = out.appendingPathComponent("enc_dec_w_attention")
        let metrics = try XCTUnwrap(json(folder.appendingPathComponent("metrics.json")) as? [String: Any])
        XCTAssertEqual((metrics["settings"] as? [String: String])?["decoding"], "beam 3")
        let report = try String(contentsOfFile: folder.appendingPathComponent("report.md").path, encoding: .utf8)
        XCTAssertTrue(report.contains("beam 3 decoding"), report)
        let index = try String(contentsOfFile: out.appendingPathComponent("report.md").path, encoding: .utf8)
        XCTAssertTrue(index.contains("[enc_dec_w_attention/report.md](enc_dec_w_attention/report.md)") && index.contains("beam 3"), index)
        XCTAssertFalse(index.contains("| enc_dec |"), "no vanilla run in this folder")

        let data = try SydneyCaptions.load(directory: s.data)
        let store = ParameterStore()
        let lowered = try ModelLoading.load(s.model, options: .init(mode: .infer))
        try store.load(from: folder.appendingPathComponent("decoder.safetensors").path, for: lowered)
        let greedy = try CaptionDecoder(graph: try Pipelines.compileForInference(lowered, PassContext(options: PassOptions(verifyEach: true))), file: s.model, vocabulary: data.vocabulary, threads: 1)
        let beam1 = try BeamDecoder(file: BeamDecoder.stepFile(for: s.model), width: 1, vocabulary: data.vocabulary, threads: 1)
        let beam3 = try BeamDecoder(file: BeamDecoder.stepFile(for: s.model), width: 3, vocabulary: data.vocabulary, threads: 1)
        try beam1.checkParameters(store, model: s.model)
        let features = try HDF5Features.read(path: s.features)
        let all = CaptioningFeatures(values: features.features, rows: features.count, regions: 4, dim: 8, provenance: "test")
        // The training loop's feeds, written into the executor's memory, hold the batch's rows.
        let names = Array(data.test.imageNames.prefix(3))
        let rows = try names.flatMap { name -> ArraySlice<Float> in
            let r = try all.row(of: name)
            return features.features[(r * 32)..<((r + 1) * 32)]
        }
        XCTAssertEqual(try all.batchWriter(names).tensor(), HostTensor(shape: [3, 4, 8], floats: rows))
        XCTAssertEqual(try all.batch(names), HostTensor(shape: [3, 4, 8], floats: rows))
        var differ = 0
        for name in data.test.imageNames.prefix(6) {
            let f = try all.batch([name])
            let g = try greedy.decode(f, parameters: store)
            let b = try beam1.decode(f, parameters: store)
            XCTAssertEqual(b.tokens, g.tokens, name)
            for (x, y) in zip(try XCTUnwrap(b.alphas), try XCTUnwrap(g.alphas)) {
                for (p, q) in zip(x, y) { XCTAssertEqual(p, q, accuracy: 1e-5) }
            }
            let wide = try beam3.decode(f, parameters: store)
            XCTAssertLessThanOrEqual(wide.tokens.count, 22)
            XCTAssertEqual(wide.alphas?.count, wide.tokens.count)
            if wide.tokens != g.tokens { differ += 1 }
        }
        print("CaptioningTrainingTests: beam 3 differs from greedy on \(differ) of 6 images")
    }

    /// Without --features the features are computed once with the encoder beside the model
    /// (here a tiny one over 8x8 copies of the images) and cached in --cache, then reused.
    func testFeaturesAreComputedOnceAndCachedOutsideTheData() throws {
        let s = try setup("caption_lstm.swiftgraph")
        let data = s.dir.appendingPathComponent("data")
        let images = data.appendingPathComponent("images")
        try FileManager.default.createDirectory(at: data.appendingPathComponent("datasets"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: images, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: s.data + "/dataset.json", toPath: data.appendingPathComponent("dataset.json").path)
        for f in ["train.json", "val.json", "test.json", "vocab_info.json"] {
            try FileManager.default.copyItem(atPath: s.data + "/datasets/" + f, toPath: data.appendingPathComponent("datasets/" + f).path)
        }
        for n in 1...613 {
            let px = (0..<192).map { UInt8(($0 * 7 + n * 13) % 256) }
            try Q3Support.tiff(width: 8, height: 8, pixels: px).write(to: images.appendingPathComponent("\(n).tif"))
        }
        try """
            let image = input("image", [batch, 3, 8, 8])
            let conv = Conv2d(8, kernel: 4, stride: 4, bias: false)
            output("features", relu(conv(image)))
            """.write(to: s.dir.appendingPathComponent("resnet18.swiftgraph"), atomically: true, encoding: .utf8)
        let cache = s.dir.appendingPathComponent("cache")
        let recipe = RecipeOverrides(epochs: 1, threads: 1)
        let options = TrainingOptions(out: s.dir.appendingPathComponent("r").path, data: data.path, limit: 8, cache: cache.path)
        try TrainingJob.run(file: s.model, overrides: recipe, options: options)
        let cached = cache.appendingPathComponent("sydney-resnet18-seeded42.hdf5").path
        let f = try HDF5Features.read(path: cached)
        XCTAssertEqual([f.count, f.regions, f.dim], [613, 4, 8])
        XCTAssertEqual(FeatureExtraction.summary(of: cached)?.pretrained, false)
        let stamp = try FileManager.default.attributesOfItem(atPath: cached)[.modificationDate] as? Date
        try TrainingJob.run(file: s.model, overrides: recipe, options: options)
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: cached)[.modificationDate] as? Date, stamp, "the cache is reused")
        let report = try String(contentsOfFile: s.dir.appendingPathComponent("r/enc_dec/report.md").path, encoding: .utf8)
        XCTAssertTrue(report.contains("seeded initialisation"), report)

        var inside = options
        inside.cache = data.appendingPathComponent("c").path
        XCTAssertThrowsError(try TrainingJob.run(file: s.model, overrides: recipe, options: inside)) { XCTAssertTrue("\($0)".contains("inside the data folder"), "\($0)") }
    }
}
