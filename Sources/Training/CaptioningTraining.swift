import Datasets
import Distributed
import Foundation
import Frontend
import GraphIR
import Passes
import Reports
import Runtime

/// Q3: trains a caption decoder (graphs/caption_lstm.swiftgraph or caption_attention) on
/// Sydney-Captions as the homework's train.py does: teacher forcing on batches of training
/// captions, validation BLEU-4 after each epoch with greedy decoding, test BLEU-4 at the end;
/// writes the homework's captions file, metrics.json, plots, a checkpoint and a report.
struct CaptioningTraining {
    let file: String
    let lowered: Graph
    let recipe: Recipe
    let options: TrainingOptions
    let reporter: TrainingReporter
    /// The results folder as the user named it (`options.out` is where this run writes it).
    var shownOut: String? = nil

    struct Epoch: Codable {
        var epoch: Int
        var train_loss: Double
        var val_bleu4: Double
        var val_corpus_bleu4: Double
        /// The epoch's training steps.
        var seconds: Double
        /// Greedy decoding of the validation images after the epoch (BLEU scoring not included).
        var decode_seconds: Double
        /// How the machine ran the training steps (for bench/caption_compare.py).
        var conditions: Bench.RunConditions?
    }

    struct Metrics: Codable {
        var model: String
        var features: String
        var epochs: [Epoch]
        var train_loss: [Double]
        var val_bleu4: [Double]
        var test_bleu4: Double
        var test_corpus_bleu4: Double
        var seconds_per_epoch: Double
        var train_captions: Int
        var val_images: Int
        var test_images: Int
        var settings: [String: String]
    }

    /// The homework's file stem: `enc_dec` or `enc_dec_w_attention`.
    static func tag(attention: Bool) -> String { attention ? "enc_dec_w_attention" : "enc_dec" }

    /// Everything a run needs once the model is compiled and the data and features are loaded.
    struct Session {
        var training: Graph
        var data: SydneyCaptions
        var features: CaptioningFeatures
        var decoder: CaptionDecoder
        var maxLen: Int
        var tag: String { CaptioningTraining.tag(attention: decoder.hasAttention) }
    }

    func run() throws {
        let session = try prepare()
        let store = ParameterStore()
        if let weights = options.weights { return try evaluate(session, store, weights: weights) }
        try store.initialise(from: lowered, seed: recipe.seed)
        try checkParameters(session.decoder, store)
        let epochs: [Epoch]
        do { epochs = try train(session, store) } catch let d as TrainingDiverged { throw d.error }
        let test = try score(session.data.test, session.decoder, session.features, store)
        reporter.result(String(format: "test BLEU-4 %.4f (corpus %.4f) over %d images", test.scores.meanSentence, test.scores.corpus, test.scores.images))
        guard DataParallelRun().writes else { return }
        try writeResults(session, store, epochs: epochs, test: test)
    }

    func prepare() throws -> Session {
        try checkSource()
        let (_, training) = try TrainingJob.compile(lowered, recipe, "training", reporter: reporter)
        let (regions, dim, maxLen) = try checkInterface(lowered)
        let inferContext = PassContext(options: recipe.passes)
        let infer = try TunedCompilation.inference(try ModelLoading.load(file, options: FrontendOptions(mode: .infer)), inferContext, threads: recipe.threads)
        reporter.compiled("inference", inferContext)
        var data = try loadData()
        guard data.vocabulary.maxLen == maxLen else {
            throw RuntimeError("\(file): the model unrolls \(maxLen) steps but \(data.directory)/datasets/vocab_info.json has max_len \(data.vocabulary.maxLen)")
        }
        // Checked before the features (minutes to compute) as BeamDecoder checks it.
        guard options.beam <= data.vocabulary.size else {
            throw RuntimeError("--beam \(options.beam): the beam width must be between 1 and the vocabulary's \(data.vocabulary.size) words")
        }
        if let n = options.limit { limit(&data, n) }
        guard !data.train.captions.isEmpty, !data.val.imageNames.isEmpty, !data.test.imageNames.isEmpty else {
            throw RuntimeError("\(data.directory): a split is empty")
        }
        let encoderFile = ((file as NSString).deletingLastPathComponent as NSString).appendingPathComponent("resnet18.swiftgraph")
        let features = try CaptioningFeatures.load(featuresFile: options.features, cacheDirectory: options.cache, data: data,
                                                   encoderFile: encoderFile, regions: regions, dim: dim, threads: recipe.threads,
                                                   onBadImage: options.onBadImage, passes: recipe.passes, reporter: reporter)
        let decoder = try CaptionDecoder(graph: infer, file: file, vocabulary: data.vocabulary, threads: recipe.threads)
        if options.beam > 1 {
            let stepContext = PassContext(options: recipe.passes)
            decoder.beam = try BeamDecoder(file: BeamDecoder.stepFile(for: file), width: options.beam, vocabulary: data.vocabulary, threads: recipe.threads,
                                           context: stepContext)
            reporter.compiled("beam step", stepContext)
        }
        return Session(training: training, data: data, features: features, decoder: decoder, maxLen: maxLen)
    }

    /// Decoding captions (greedy, for validation BLEU and the results) runs the model lowered
    /// in infer mode, where each step feeds back the word it predicted: a different graph from
    /// the teacher-forced one a `.gir` holds, which only the `.swiftgraph` source can give.
    func checkSource() throws {
        guard ModelLoading.isIR(file) else { return }
        let source = lowered.nodes.lazy.compactMap { $0.location?.file }.first { $0.hasSuffix(".swiftgraph") }
        throw RuntimeError("\(file): caption \(options.weights == nil ? "training" : "evaluation") needs the model's inference form too "
            + "(greedy decoding feeds each predicted word back in), which a .gir does not hold: give the .swiftgraph it was dumped from"
            + (source.map { " (\($0))" } ?? "") + " instead")
    }

    /// `--eval --weights decoder.safetensors`: val and test BLEU-4 of saved weights.
    func evaluate(_ s: Session, _ store: ParameterStore, weights: String) throws {
        try store.load(from: weights, for: lowered)
        try NumericsReport.checkWeights(store, for: lowered, source: weights)
        try checkParameters(s.decoder, store)
        let start = Date()
        let (val, test) = try (score(s.data.val, s.decoder, s.features, store), score(s.data.test, s.decoder, s.features, store))
        reporter.result("val BLEU-4 \(val.scores.meanSentence) corpus \(val.scores.corpus); test BLEU-4 \(test.scores.meanSentence) corpus \(test.scores.corpus)")
        guard DataParallelRun().writes else { return }
        try writeEvaluation(s, store, weights: weights, val: val.scores, test: test, seconds: Date().timeIntervalSince(start))
        try rewriteReport(s, store, test: test.scores)
    }

    /// The homework's loop: shuffled batches with teacher forcing, then validation BLEU-4.
    func train(_ s: Session, _ store: ParameterStore) throws -> [Epoch] {
        let lr = recipe.learningRates[0]
        if recipe.learningRates.count > 1 { reporter.log("note: caption training uses one learning rate; using \(lr)") }
        let dp = DataParallelRun()
        try dp.checkStart(file: file, batchSize: recipe.batchSize)
        let captions = try s.data.train.encoded(with: s.data.vocabulary).ids
        let count = s.data.train.captions.count, maxLen = s.maxLen
        try TrainingJob.checkBatch(recipe.batchSize, examples: count, of: "training captions", limited: options.limit != nil)
        try dp.checkData([
            ("the training captions", "\(count) captions", Hash.words(captions)),
            ("the features", s.features.provenance, Hash.words(s.features.values)),
        ])
        try dp.checkInitialWeights(store)
        reporter.log("graphc: \(file) (\(s.tag)) on Sydney-Captions (\(count) train captions / \(s.data.val.imageNames.count) val / \(s.data.test.imageNames.count) test images), "
            + "\(recipe.epochs) epochs, batch \(recipe.batchSize), \(recipe.optimizer) lr \(lr), grad clip \(recipe.gradClip.map { String($0) } ?? "none"), "
            + "\(ParameterCount.report(lowered).trainable) parameters\nfeatures: \(s.features.provenance)\n" + TrainingJob.blasLine(threads: recipe.threads))

        /// Teacher-forcing feeds for some training captions: their images' features and tokens.
        func feeds(_ rows: [Int]) throws -> [String: HostTensor] {
            ["features": try s.features.batch(rows.map { s.data.train.imageNames[$0] }), "captions": tokens(rows)]
        }
        /// The tokens as a tensor, the features as a writer into the trainer's input memory
        /// (reduced rows kept for the run when the graph takes the features reduced).
        let reducedRows = CaptioningFeatures.ReducedRows()
        func stepFeeds(_ rows: [Int]) throws -> (tensors: [String: HostTensor], written: [String: FeedWriter]) {
            (["captions": tokens(rows)], ["features": try s.features.batchWriter(rows.map { s.data.train.imageNames[$0] }, reducedRows: reducedRows)])
        }
        func tokens(_ rows: [Int]) -> HostTensor {
            var ids = [Int64]()
            ids.reserveCapacity(rows.count * maxLen)
            for r in rows { ids.append(contentsOf: captions[(r * maxLen)..<((r + 1) * maxLen)]) }
            return HostTensor(shape: [rows.count, maxLen], ints: ids)
        }

        /// The words of a caption the loss averages over: its targets (every token after the
        /// first) other than the loss's ignored index (padding).
        let ignored = Int64(lowered.nodes.first { $0.op == .nllLoss }?.attributes[.ignoreIndex] ?? -100)
        func words(_ row: Int) -> Int {
            captions[(row * maxLen + 1)..<((row + 1) * maxLen)].reduce(0) { $0 + ($1 == ignored ? 0 : 1) }
        }

        var epochs: [Epoch] = []
        var order = BatchOrder(count: count, batchSize: recipe.batchSize, seed: recipe.seed)
        let batches = order.batchesPerEpoch
        let training = try TrainingJob.tunedTraining(lowered, s.training, recipe, forward: lowered, firstBatch: try feeds(dp.localBatch(order.batch(0)).indices), reporter: reporter)
        let trainer = try Trainer(graph: training, parameters: store, optimizer: recipe.makeOptimizer(learningRate: lr),
                                  gradClip: recipe.gradClip, options: ExecutionOptions(training: true, seed: dp.dropoutSeed(recipe.seed), threads: recipe.threads))
        trainer.fusesUpdates = options.fusesOptimizerStep
        try TrainingJob.instrument(trainer, firstBatch: try feeds(dp.localBatch(order.batch(0)).indices), profile: options.profile, threads: recipe.threads,
                                   reporter: reporter)
        dp.communicator?.resetStatistics()
        var steps = 0
        defer {
            if options.profile {
                reporter.log(ProfileReport(executor: trainer.executor, title: "training steps of \(s.tag)", phases: trainer.phaseTimes).text)
                if let line = dp.profileLine(steps: steps) { reporter.log(line) }
            }
        }
        let stepLosses = try options.stepLosses.flatMap { dp.writes ? try StepLossLog(path: $0, config: s.tag) : nil }
        reporter.begin(s.tag, total: batches * recipe.epochs)
        defer { reporter.end() }
        let checked = CheckedTraining(mode: options.checkNumerics, trainer: trainer, file: file, lowered: lowered, recipe: recipe,
                                      learningRate: lr, inputKind: ["features": "features"])
        for epoch in 1...recipe.epochs {
            order.shuffle()
            let meter = Bench.ConditionsMeter()
            var lossSum = 0.0
            for b in 0..<batches {
                let rows = Array(order.batch(b))
                // Each rank's share of the batch counts its words: the loss is a mean over them.
                let (local, share) = dp.localBatch(rows[...], weight: words)
                steps += 1
                dp.world.killForTest(atStep: steps)
                dp.setShare(share)
                let batch = try trainer.timingData { try stepFeeds(local) }
                let loss = dp.globalLoss(try checked.step(feeds: batch.tensors, writing: batch.written, epoch: epoch, step: b + 1), share: share)
                stepLosses?.append(loss)
                lossSum += loss
                reporter.stepDone(epoch: epoch, step: b + 1, of: batches, meanLoss: lossSum / Double(b + 1), items: rows.count)
            }
            let (seconds, conditions) = meter.read()
            // Decoding is timed without the BLEU scoring after it, for bench/caption_bench.sh.
            let decodeStart = Date()
            let hyps = try dp.captions(s.data.val.imageNames) { try s.decoder.captions($0, features: s.features, parameters: store) }
            let decodeSeconds = Date().timeIntervalSince(decodeStart)
            let val = try BleuScoring.scores(references: s.data.val.orderedRefs, hypotheses: hyps)
            let e = Epoch(epoch: epoch, train_loss: lossSum / Double(batches), val_bleu4: val.meanSentence,
                          val_corpus_bleu4: val.corpus, seconds: seconds, decode_seconds: decodeSeconds, conditions: conditions)
            epochs.append(e)
            reporter.log(String(format: "epoch %d  train loss %.4f  val BLEU-4 %.4f (corpus %.4f)  %.1f s train, %.1f s decode",
                                       epoch, e.train_loss, e.val_bleu4, e.val_corpus_bleu4, seconds, e.decode_seconds))
        }
        return epochs
    }

    /// The homework's captions file, metrics.json, the weights and the report.
    func writeResults(_ s: Session, _ store: ParameterStore, epochs: [Epoch], test: (scores: BleuScoring.Scores, captions: [[String]])) throws {
        let out = options.out
        let folder = (out as NSString).appendingPathComponent(s.tag)
        let generated = zip(s.data.test.imageNames, test.captions).map { BleuScoring.Caption(imageName: $0, caption: $1) }
        try JSONReport.write(generated, to: (out as NSString).appendingPathComponent("caps_generated_\(s.tag).json"))
        let metrics = Metrics(model: file, features: s.features.provenance, epochs: epochs, train_loss: epochs.map(\.train_loss),
                              val_bleu4: epochs.map(\.val_bleu4), test_bleu4: test.scores.meanSentence,
                              test_corpus_bleu4: test.scores.corpus,
                              seconds_per_epoch: epochs.map(\.seconds).reduce(0, +) / Double(max(epochs.count, 1)),
                              train_captions: s.data.train.captions.count, val_images: s.data.val.imageNames.count,
                              test_images: s.data.test.imageNames.count, settings: settings(recipe.learningRates[0]))
        try JSONReport.write(metrics, to: (folder as NSString).appendingPathComponent("metrics.json"))
        try store.save(to: (folder as NSString).appendingPathComponent("decoder.safetensors"), metadata: ["model": file])
        try CaptioningReport(file: file, tag: s.tag, metrics: metrics, data: s.data, features: s.features, decoder: s.decoder,
                             store: store, folder: folder).write()
        let shown = shownOut ?? out
        reporter.result("results written to \(shown)/caps_generated_\(s.tag).json and \((shown as NSString).appendingPathComponent(s.tag))/")
    }

    /// What `--eval` of a caption model found, in `<out>/<tag>/evaluation.json`, with the test
    /// captions in the homework's format in `<out>/caps_generated_<tag>.json`: a second decoding
    /// (beam search) of trained weights sits beside the training run's own figures this way.
    struct Evaluation: Codable {
        var model: String
        var weights: String
        var features: String
        var decoding: String
        var val_bleu4: Double
        var val_corpus_bleu4: Double
        var test_bleu4: Double
        var test_corpus_bleu4: Double
        var test_images: Int
        /// The homework's three images (those in the test split) and their captions.
        var showcase: [String: String]
        var seconds: Double
        var threads: Int
        var blas_core: String
    }

    func writeEvaluation(_ s: Session, _ store: ParameterStore, weights: String, val: BleuScoring.Scores,
                         test: (scores: BleuScoring.Scores, captions: [[String]]), seconds: Double) throws {
        let captions = Dictionary(zip(s.data.test.imageNames, test.captions), uniquingKeysWith: { a, _ in a })
        var showcase: [String: String] = [:]
        for name in CaptioningReport.showcase {
            if let c = captions[name] { showcase[name] = c.joined(separator: " ") }
            else if let f = try? s.features.batch([name]) { showcase[name] = try s.decoder.decode(f, parameters: store).tokens.joined(separator: " ") }
        }
        let e = Evaluation(model: file, weights: weights, features: s.features.provenance, decoding: decoding,
                           val_bleu4: val.meanSentence, val_corpus_bleu4: val.corpus, test_bleu4: test.scores.meanSentence,
                           test_corpus_bleu4: test.scores.corpus, test_images: test.scores.images, showcase: showcase,
                           seconds: seconds, threads: recipe.threads, blas_core: BLASInfo.coreName)
        let out = options.out as NSString
        let generated = zip(s.data.test.imageNames, test.captions).map { BleuScoring.Caption(imageName: $0, caption: $1) }
        try JSONReport.write(generated, to: out.appendingPathComponent("caps_generated_\(s.tag).json"))
        try JSONReport.write(e, to: (out.appendingPathComponent(s.tag) as NSString).appendingPathComponent("evaluation.json"))
    }

    /// `--eval` with the metrics of an earlier run in the results folder redraws that run's
    /// report (captions and attention maps) from the given weights.
    /// The report's test figures and decoding become this evaluation's; the per-epoch history
    /// stays the training run's.
    func rewriteReport(_ s: Session, _ store: ParameterStore, test: BleuScoring.Scores) throws {
        let folder = (options.out as NSString).appendingPathComponent(s.tag)
        let path = (folder as NSString).appendingPathComponent("metrics.json")
        guard let bytes = FileManager.default.contents(atPath: path) else { return }
        var metrics: Metrics
        do { metrics = try JSONDecoder().decode(Metrics.self, from: bytes) } catch {
            throw RuntimeError("\(path): not the metrics.json of a caption run (\(error.localizedDescription))")
        }
        metrics.test_bleu4 = test.meanSentence
        metrics.test_corpus_bleu4 = test.corpus
        metrics.test_images = test.images
        metrics.settings["decoding"] = decoding
        try CaptioningReport(file: file, tag: s.tag, metrics: metrics, data: s.data, features: s.features, decoder: s.decoder,
                             store: store, folder: folder).write()
        reporter.result("report redrawn in \(((shownOut ?? options.out) as NSString).appendingPathComponent(s.tag))/report.md")
    }

    /// How captions are decoded, in the metrics' words.
    var decoding: String { options.beam > 1 ? "beam \(options.beam)" : "greedy" }

    func settings(_ lr: Float) -> [String: String] {
        ["epochs": "\(recipe.epochs)", "batch_size": "\(recipe.batchSize)", "optimizer": recipe.optimizer, "lr": "\(lr)",
         "grad_clip": recipe.gradClip.map { "\($0)" } ?? "none", "dropout": recipe.dropout.map { "\($0)" } ?? "model",
         "seed": "\(recipe.seed)", "decoding": decoding,
         "threads": "\(recipe.threads)", "blas_core": BLASInfo.coreName, "kernel_isa": VectorISA.current.description]
    }

    /// Greedy captions of a split and their BLEU-4.
    func score(_ split: CaptionsEval, _ decoder: CaptionDecoder, _ features: CaptioningFeatures,
               _ store: ParameterStore) throws -> (scores: BleuScoring.Scores, captions: [[String]]) {
        let hyps = try DataParallelRun().captions(split.imageNames) { try decoder.captions($0, features: features, parameters: store) }
        return (try BleuScoring.scores(references: split.orderedRefs, hypotheses: hyps), hyps)
    }

    /// The training graph's contract: `features` [B, regions, dim], `captions` int64 [B, maxLen], a loss.
    func checkInterface(_ g: Graph) throws -> (regions: Int, dim: Int, maxLen: Int) {
        guard let f = g.input(named: "features"), g[f].fedType.dtype == .f32, g[f].fedType.shape.rank == 3,
              let regions = g[f].fedType.shape.dims[1].value, let dim = g[f].fedType.shape.dims[2].value else {
            throw RuntimeError("\(file): a caption model needs an f32 input \"features\" [batch, regions, dim] with known regions and dim")
        }
        guard let c = g.input(named: "captions"), g[c].type.dtype == .i64, g[c].type.shape.rank == 2,
              let maxLen = g[c].type.shape.dims[1].value else {
            throw RuntimeError("\(file): in train mode a caption model needs an int64 input \"captions\" [batch, maxLen]")
        }
        guard g.loss != nil else { throw RuntimeError("\(file): in train mode a caption model needs a loss(...)") }
        return (regions, dim, maxLen)
    }

    /// The inference (and beam-search step) graphs must use the weights the training graph
    /// trains, by name.
    func checkParameters(_ decoder: CaptionDecoder, _ store: ParameterStore) throws {
        let infer = decoder.graph
        for v in infer.parameters {
            guard let name = infer[v].name, store.get(name) != nil else {
                throw RuntimeError("\(file): the infer-mode graph has a parameter '\(infer[v].name ?? "?")' the train-mode graph does not")
            }
        }
        try decoder.beam?.checkParameters(store, model: file)
    }

    func loadData() throws -> SydneyCaptions {
        let dir = options.data ?? SydneyCaptions.defaultDirectory
        // The homework's download holds images/ and dataset.json; the splits and vocabulary
        // come from its preprocessing, so say which files are expected rather than the first missing one.
        let splits = (dir as NSString).appendingPathComponent("datasets")
        if FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent("dataset.json")),
           !FileManager.default.fileExists(atPath: splits) {
            throw RuntimeError("\(dir) has dataset.json but no datasets/ folder: graphc reads the homework's splits and vocabulary from "
                + "datasets/train.json, val.json, test.json and vocab_info.json (as the homework's preprocessing writes them) beside dataset.json and images/")
        }
        do {
            return try SydneyCaptions.load(directory: dir)
        } catch let e as FileError where options.data == nil && e.file == dir {
            throw RuntimeError("\(e.description)\n(looked in the default place, \(dir); pass --data DIR with dataset.json, datasets/ and images/)")
        }
    }

    /// `--limit n`: the first n training captions and n val and test images, for quick runs.
    func limit(_ data: inout SydneyCaptions, _ n: Int) {
        data.train = CaptionsTrain(imageNames: Array(data.train.imageNames.prefix(n)), captions: Array(data.train.captions.prefix(n)))
        data.val.imageNames = Array(data.val.imageNames.prefix(n))
        data.test.imageNames = Array(data.test.imageNames.prefix(n))
    }
}
