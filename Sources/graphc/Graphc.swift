import ArgumentParser
import Foundation
import Frontend
import GraphIR
import Distributed
import Passes
import Runtime
import Training

/// The `graphc` command: inspect, compile, train and evaluate models written in the
/// .swiftgraph DSL (or in the IR's text form, .gir).
@main
struct Graphc: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "graphc",
        abstract: "A static-graph deep-learning compiler and CPU runtime.",
        discussion: """
        Models are .swiftgraph files (a subset of Swift), .gir files (graphc's IR as text) or .onnx files.
        Examples:
          graphc graphs/cnn.swiftgraph --count-params
          graphc graphs/q1_cnn.swiftgraph graphs/q1_mlp.swiftgraph --count-params
          graphc graphs/cnn.swiftgraph --dump-ir --after all
          graphc graphs/cnn.swiftgraph --train --lr 0.001,0.01,0.1
          graphc graphs/cnn.swiftgraph --eval --weights results/best.safetensors
          graphc graphs/q1_attention.swiftgraph --run --inputs X=x.npy --out outputs.npz
          graphc graphs/q1_attention.swiftgraph --attention-study --out results/q1
          graphc --homework-page results
          graphc graphs/resnet18.swiftgraph --extract-features --images DIR --out all_features.hdf5
          graphc graphs/caption_attention.swiftgraph --train --features all_features.hdf5
          graphc --bleu results/caps_generated_enc_dec.json --refs DATA/datasets/test.json
        """,
        version: "graphc 0.1.0 (OpenBLAS kernels: \(BLASInfo.coreName))")

    @Argument(help: ArgumentHelp("Model files (.swiftgraph, .gir or .onnx).", valueName: "file"))
    var files: [String] = []

    // What to do.
    @Flag(help: "Print a per-layer table of output shapes and parameter counts, then the totals.")
    var countParams = false
    @Flag(name: .customLong("dump-ir"), help: "Print the IR after the compile pipeline (see --after, --passes).")
    var dumpIR = false
    @Option(help: ArgumentHelp("With --dump-ir: print the IR after this pass only, or after every pass with 'all'.", valueName: "pass|all"))
    var after: String?
    @Option(help: ArgumentHelp("Comma-separated passes to run instead of the default pipeline (--list-passes shows them).", valueName: "names"))
    var passes: String?
    @Flag(help: "List the registered passes with their summaries.")
    var listPasses = false
    @Flag(help: "Print each pass's wall time.")
    var timePasses = false
    @Flag(help: "Print what each pass did (nodes before and after, nodes fused, stacked, removed...) to stderr.")
    var passStats = false
    @Flag(help: "Verify the graph after every pass, naming the pass that broke it.")
    var verifyEach = false
    @Option(help: ArgumentHelp("Lower the model in 'train' (teacher forcing, loss) or 'infer' mode.", valueName: "train|infer"))
    var mode: String = "train"
    @Flag(help: "Train the model on the data its train(on:) declaration names.")
    var train = false
    @Flag(help: "Evaluate the weights given by --weights on the dev and test sets.")
    var eval = false
    @Option(help: ArgumentHelp("A safetensors checkpoint to evaluate (--eval) or run (--run), or the encoder's weights for --extract-features (.pth or .safetensors).", valueName: "file"))
    var weights: String?

    // Running a model once (--run).
    @Flag(name: .customLong("run"), help: "Run the inference graph once on --inputs (seeded random inputs when none are given) and print every output's shape, dtype, min, max, mean and first values; --out FILE.npz also writes them.")
    var runModel = false
    @Option(name: .customLong("inputs"), help: ArgumentHelp("With --run: FILE.npz (arrays named as the model's inputs), NAME=FILE.npy, or NAME.npy; repeat the option for several files. Arrays must have the declared dtype (float32 or int64) and shape.", valueName: "file"))
    var runInputs: [String] = []
    @Flag(help: "With --run and --inputs: fill the inputs no file gives with seeded random values (f32 standard normal, i64 ids within the table or classes they index), of the declared shapes with the batch of the given inputs (else --batch-size, default 1).")
    var randomInputs = false

    // The homework (scripts/homework.sh).
    @Flag(help: "Q1's self-attention questions on graphs/q1_attention.swiftgraph, run as --run runs it: the singular values of A(h) and the probabilities of two heads related by an invertible B; --out DIR also writes the weights, X, the outputs and study.json.")
    var attentionStudy = false
    @Option(help: ArgumentHelp("Write DIR/index.html: the homework answered on one page from what scripts/homework.sh left in DIR.", valueName: "dir"))
    var homeworkPage: String?

    // Captioning (Q3).
    @Flag(help: "Run an encoder (graphs/resnet18.swiftgraph) over --images and write its features to an HDF5 file (--out).")
    var extractFeatures = false
    @Option(help: ArgumentHelp("Folder of N.tif images for --extract-features.", valueName: "dir")) var images: String?
    @Option(help: ArgumentHelp("What to do with an unreadable image: skip it (its row stays zero) or stop.", valueName: "skip|stop"))
    var onBadImage: String = "stop"
    @Option(help: ArgumentHelp("An HDF5 features file (dataset 'features', row = image number - 1) for caption training.", valueName: "file"))
    var features: String?
    @Option(help: ArgumentHelp("Where caption training caches the features it computes (never inside the data folder).", valueName: "dir"))
    var cache: String = ".graphc-cache"
    @Option(parsing: .unconditional, help: "Beam width for decoding captions (1 = greedy, as the homework).") var beam: Int = 1
    @Option(help: ArgumentHelp("Score a captions file ([{image_name, caption}]) with BLEU-4 against --refs.", valueName: "file"))
    var bleu: String?
    @Option(help: ArgumentHelp("Reference captions for --bleu (datasets/val.json or test.json).", valueName: "file"))
    var refs: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("Use only the first N training captions (Fashion-MNIST: training images) and the first N val/dev and test images; with --extract-features, encode only the first N images (quick runs).", valueName: "n"))
    var limit: Int?

    // Training settings; each defaults to the model's train(...) declaration.
    @Option(parsing: .unconditional, help: "Epochs.") var epochs: Int?
    @Option(parsing: .unconditional, help: ArgumentHelp("Learning rate, or a comma-separated sweep such as 0.001,0.01,0.1.", valueName: "lr[,lr...]"))
    var lr: String?
    @Option(parsing: .unconditional, help: "Batch size (with --run: the batch of random inputs, default 1).") var batchSize: Int?
    @Option(help: ArgumentHelp("Optimiser.", valueName: "sgd|adam")) var optimizer: String?
    @Option(parsing: .unconditional, help: "SGD momentum (0 = plain SGD).") var momentum: Float?
    @Option(parsing: .unconditional, help: "Dropout probability, replacing every Dropout layer's p.") var dropout: Double?
    @Option(parsing: .unconditional, help: "L2 weight decay, applied by the optimiser.") var l2: Float?
    @Option(parsing: .unconditional, help: "Clamp every gradient value to ±this before the update.") var gradClip: Float?
    @Option(parsing: .unconditional, help: "Seed for weights, shuffling and dropout (with --run: of the weights and, plus one, of random inputs).") var seed: UInt64?
    @Option(parsing: .unconditional, help: "Kernel threads: convolutions, pooling, matrix products and large elementwise loops are split over them, with OpenBLAS single-threaded inside each part (default: all cores).") var threads: Int?
    @Option(help: ArgumentHelp("Data folder (or a Fashion-MNIST.npz file).", valueName: "path")) var data: String?
    @Option(help: ArgumentHelp("Results folder (default: results); with --run, the .npz file to write the outputs to (without it --run writes nothing).", valueName: "dir|file"))
    var out: String?
    @Flag(help: "Print per-op time, share of the step and GFLOP/s after training, evaluation or feature extraction.")
    var profile = false
    @Option(help: ArgumentHelp("Run the speed-up passes (contract, hoist, fusion) before training, evaluating or benchmarking.", valueName: "on|off"))
    var fusion: String = "on"
    @Option(help: ArgumentHelp("Let plain SGD (no momentum, weight decay or clipping) update a weight inside the backward, in the product that makes its gradient ('off': every update after the step's backward).", valueName: "on|off"))
    var fusedUpdate: String = "on"
    @Option(help: ArgumentHelp("With --bench: plan memory by lifetimes ('off': one buffer per value).", valueName: "on|off"))
    var memoryPlan: String = "on"
    @Option(help: ArgumentHelp("The most memory one plan may need (an executor's arena for a batch): bytes, or with K, M, G or T (default: the machine's physical memory).", valueName: "bytes"))
    var maxMemory: String?
    @Option(help: ArgumentHelp("Choose kernel variants, splits and fusions by timing them on first use, remembered per machine in the tuning cache ($GRAPHC_TUNING_CACHE, else ~/.cache/graphc/tuning.json); 'off': fixed defaults.", valueName: "off|fast|full"))
    var tune: String = "fast"
    @Option(help: ArgumentHelp("The most graphc's own vector kernels may use (default: the best the CPU has); with OPENBLAS_CORETYPE=Haswell, --isa avx2 runs as a CPU without AVX-512 would. Tuning choices are kept per instruction set.", valueName: "avx512|avx2|sse2"))
    var isa: String?
    @Option(help: ArgumentHelp("How inference graphs' convolutions run: 'auto' measures each layer's candidates with --tune (the fixed default, blocked, with --tune off); 'blocked', 'winograd' (3x3 stride-1 layers; the others blocked) or 'im2col' for every layer that allows it.", valueName: "auto|blocked|winograd|im2col"))
    var convolution: String = "auto"
    @Option(parsing: .unconditional, help: ArgumentHelp("Kernel threads for evaluation batches, as --threads (default: --threads, else all cores).", valueName: "n"))
    var evalThreads: Int?
    @Option(help: ArgumentHelp("Check training for NaN and infinity op by op: 'auto' checks the first steps and runs any step with a non-finite loss again to find the op (and its DSL line) that made it; 'always' checks every step and update; 'off' only stops on a non-finite loss.", valueName: "auto|always|off"))
    var checkNumerics: String = "auto"

    // Benchmark mode.
    @Option(name: .customLong("export-onnx"), help: ArgumentHelp("Write the inference graph with its weights (--weights, else the seeded initialisation) as an ONNX model (opset 17).", valueName: "file.onnx"))
    var exportONNX: String?
    @Flag(help: "Measure training and evaluation throughput on random data; prints JSON (see bench/cnn.sh).")
    var bench = false
    @Option(parsing: .unconditional, help: ArgumentHelp("With --bench: training batch sizes.", valueName: "b[,b...]")) var benchBatches: String = "8,64"
    @Option(parsing: .unconditional, help: ArgumentHelp("With --bench: evaluation batch size.", valueName: "b")) var benchEvalBatch: Int = 1024

    // ONNX models, which declare no training: what --train and --eval use instead.
    @Option(help: ArgumentHelp("With an .onnx model: the data set to train or evaluate on (its one float input is the image, its first output the class scores).", valueName: "fashion-mnist"))
    var dataset: String?
    @Option(help: ArgumentHelp("With an .onnx model and --dataset: the name of the class-label input added to it (default: label).", valueName: "name"))
    var label: String?
    @Option(help: ArgumentHelp("With an .onnx model and --dataset: nll (the first output is log-probabilities) or cross-entropy (it is scores); default: nll when a LogSoftmax makes it.", valueName: "nll|cross-entropy"))
    var loss: String?
    @Option(parsing: .unconditional, help: ArgumentHelp("With --bench: runs per measurement (median reported).", valueName: "n")) var benchRepeats: Int = 5
    @Option(parsing: .unconditional, help: ArgumentHelp("With --bench: approximate seconds per run.", valueName: "s")) var benchSeconds: Double = 2
    @Option(parsing: .unconditional, help: ArgumentHelp("With --bench: after each measurement, n pairs of runs in this process of the model and of it as --fusion off --memory-plan off compiles it, in turn; JSON 'unfused_pairs'. 0: none.", valueName: "n")) var benchPairs: Int = 0

    // Data-parallel jobs (mpirun -np N graphc ... --train).
    @Flag(help: "Compile the training graph for a data-parallel job (on by itself under mpirun with several ranks); with --dump-ir shows the data-parallel pass's all-reduce ops.")
    var dataParallel = false
    @Option(parsing: .unconditional, help: ArgumentHelp("Largest gradient bucket one all-reduce exchanges, in MB (default 2).", valueName: "mb"))
    var bucketMb: Double?
    @Option(help: ArgumentHelp("With --train: append every step's training loss (of the global batch) to this file, as 'config step loss' lines.", valueName: "file"))
    var stepLosses: String?

    // Numeric options parse `.unconditional`ly, so `--lr -0.1` reaches the range check (a
    // clear "must be positive") instead of being read as an unknown flag `-0.1`.
    func validate() throws {
        if listPasses { return }
        if homeworkPage != nil {
            guard files.isEmpty else { throw ValidationError("--homework-page takes no model file (it reads the results folder)") }
            return
        }
        if bleu != nil || refs != nil {
            guard bleu != nil, refs != nil else { throw ValidationError("--bleu CAPTIONS.json needs --refs REFS.json (and the other way round)") }
            guard files.isEmpty else { throw ValidationError("--bleu takes no model file") }
            return
        }
        guard !files.isEmpty else { throw ValidationError("give a model file (.swiftgraph or .gir); see --help") }
        guard ["train", "infer"].contains(mode) else { throw ValidationError("--mode must be 'train' or 'infer', got '\(mode)'") }
        let actions = [countParams, dumpIR, train, eval, runModel, extractFeatures, bench, attentionStudy, exportONNX != nil].filter { $0 }.count
        guard actions <= 1 else { throw ValidationError("choose one of --count-params, --dump-ir, --train, --eval, --run, --extract-features, --bench, --attention-study, --export-onnx") }
        guard actions == 1 else { throw ValidationError("nothing to do: add --count-params, --dump-ir, --train, --eval, --run, --extract-features, --bench, --attention-study or --export-onnx") }
        if let o = exportONNX, !o.hasSuffix(".onnx") { throw ValidationError("--export-onnx writes an ONNX model: the file name must end in .onnx, got '\(o)'") }
        if !runModel && (!runInputs.isEmpty || randomInputs) { throw ValidationError("--inputs and --random-inputs go with --run") }
        if runModel, let o = out, !o.hasSuffix(".npz") { throw ValidationError("--run writes its outputs as .npz: --out must end in .npz, got '\(o)'") }
        if extractFeatures && images == nil { throw ValidationError("--extract-features needs --images DIR") }
        if images != nil && !extractFeatures { throw ValidationError("--images goes with --extract-features") }
        guard ["skip", "stop"].contains(onBadImage) else { throw ValidationError("--on-bad-image must be 'skip' or 'stop', got '\(onBadImage)'") }
        if beam < 1 { throw ValidationError("--beam must be at least 1") }
        if let n = limit, n < 1 { throw ValidationError("--limit must be at least 1") }
        guard ["on", "off"].contains(memoryPlan) else { throw ValidationError("--memory-plan must be 'on' or 'off', got '\(memoryPlan)'") }
        guard ["on", "off"].contains(fusion) else { throw ValidationError("--fusion must be 'on' or 'off', got '\(fusion)'") }
        guard ["on", "off"].contains(fusedUpdate) else { throw ValidationError("--fused-update must be 'on' or 'off', got '\(fusedUpdate)'") }
        guard NumericsCheckMode(rawValue: checkNumerics) != nil else { throw ValidationError("--check-numerics must be 'auto', 'always' or 'off', got '\(checkNumerics)'") }
        guard TuneMode(rawValue: tune) != nil else { throw ValidationError("--tune must be 'off', 'fast' or 'full', got '\(tune)'") }
        if let isa, let problem = VectorISA.problem(withFlag: isa) { throw ValidationError(problem) }
        guard convolution == "auto" || ConvolutionAlgorithm(rawValue: convolution) != nil else {
            throw ValidationError("--convolution must be 'auto', 'blocked', 'winograd' or 'im2col', got '\(convolution)'")
        }
        if benchRepeats < 1 { throw ValidationError("--bench-repeats must be at least 1") }
        if benchEvalBatch < 1 { throw ValidationError("--bench-eval-batch must be at least 1") }
        if !(benchSeconds > 0 && benchSeconds < 3600) { throw ValidationError("--bench-seconds must be between 0 and 3600") }
        if !(0...1000).contains(benchPairs) { throw ValidationError("--bench-pairs must be between 0 and 1000, got \(benchPairs)") }
        if benchPairs > 0 && (fusion == "off" || memoryPlan == "off") {
            throw ValidationError("--bench-pairs times the model against --fusion off --memory-plan off: leave both on")
        }
        if !countParams && files.count > 1 { throw ValidationError("only --count-params takes several model files") }
        if after != nil && !dumpIR { throw ValidationError("--after goes with --dump-ir") }
        if timePasses && !dumpIR { throw ValidationError("--time-passes goes with --dump-ir (with the other commands, --pass-stats reports what each pass did)") }
        if countParams && (passStats || verifyEach) { throw ValidationError("--count-params runs no passes: --pass-stats and --verify-each go with the commands that compile") }
        try validateONNXTask()
        if eval && weights == nil && !ModelLoading.isONNX(files[0]) { throw ValidationError("--eval needs --weights FILE") }
        // The ranges are the training settings' own (TrainingSettings), as a .gir meta line's.
        if let p = dropout, let problem = TrainingSettings.dropout.problem(with: p) { throw ValidationError("--dropout \(problem)") }
        do { try recipeOverrides().check() } catch let e as RuntimeError { throw ValidationError(e.description) }
        if let m = maxMemory, MemoryBudget.parse(m) == nil { throw ValidationError("--max-memory must be a positive size such as 4G or 500M, got '\(m)'") }
        if let mb = bucketMb, !(mb > 0 && mb <= 4096) { throw ValidationError("--bucket-mb must be a size in MB above 0 and at most 4096, got \(mb)") }
        if stepLosses != nil && !train { throw ValidationError("--step-losses goes with --train") }
    }

    func run() throws {
        // A write past `ulimit -f` then fails with EFBIG, reported with the file's name,
        // instead of the signal killing the run without a word.
        signal(SIGXFSZ, SIG_IGN)
        if let m = maxMemory, let bytes = MemoryBudget.parse(m) { MemoryBudget.bytes = bytes; MemoryBudget.source = "--max-memory \(m)" }
        if let t = threads { BLASInfo.setThreads(t) }
        // Before the tuner: its machine identity names the instruction set.
        if let isa, let wanted = VectorISA(flag: isa) { VectorISA.limit(to: wanted) }
        Tuner.shared = Tuner.standard(mode: TuneMode(rawValue: tune) ?? .fast)
        defer { for w in Tuner.shared.takeWarnings() { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) } }
        // Joins the MPI job when mpirun started several ranks (otherwise no MPI call is made).
        let world = World.shared
        var failed = false
        defer { if !failed { world.finalize() } }
        do {
            if listPasses { return printPasses() }
            if let dir = homeworkPage { return print("wrote " + (try HomeworkPage(results: dir).write())) }
            if attentionStudy {
                let result = try SelfAttentionStudy.run(file: files[0], seed: seed ?? 7, threads: threads, out: out)
                return print(SelfAttentionStudy.text(result, out: out), terminator: "")
            }
            if let captions = bleu, let references = refs { return print(try BleuScoring.line(captions: captions, refs: references)) }
            if extractFeatures, let dir = images {
                try FeatureExtraction.run(encoderFile: files[0], weights: weights, seed: seed ?? 42, threads: threads, images: dir, out: resultsFolder,
                                          policy: badImagePolicy, limit: limit, passes: passOptions, profile: profile, reporter: reporter)
                return
            }
            if countParams { return try CountParams.run(files: files, options: frontendOptions) }
            if dumpIR {
                return try DumpIR.run(file: files[0], options: frontendOptions, pipeline: try pipelineNames(), after: after,
                                      passOptions: dumpOptions, timePasses: timePasses, passStats: passStats)
            }
            if train || eval {
                return try TrainingJob.run(file: files[0], overrides: try recipeOverrides(), options: trainingOptions, reporter: reporter)
            }
            if runModel { return try runOnce() }
            if let path = exportONNX { return try exportToONNX(path) }
            if bench {
                let report = try Bench.run(file: files[0], overrides: try recipeOverrides(), settings: try benchSettings(), reporter: reporter)
                return print(report.json)
            }
        } catch let e as ExitCode {
            failed = true
            throw e
        } catch {
            failed = true
            ErrorReport.print(error, modelFiles: files, rank: world.isDistributed ? world.label : nil)
            // The other ranks may be waiting for this one in a collective: stop them all.
            if world.isDistributed { world.abort() }
            throw ExitCode.failure
        }
    }

    var frontendOptions: FrontendOptions { FrontendOptions(mode: mode == "infer" ? .infer : .train) }

    /// `--out`, for the commands that write a results folder.
    var resultsFolder: String { out ?? "results" }

    /// What the pipelines read: the batch size and dropout flags, --verify-each, --fusion.
    var passOptions: PassOptions {
        var options = PassOptions(batchSize: batchSize, dropout: dropout, verifyEach: verifyEach, fusion: fusion != "off")
        options.dataParallel = dataParallel || World.launchedWithSeveralRanks
        if let mb = bucketMb { options.bucketBytes = max(4, Int(mb * 1_000_000)) }
        // nil (`auto`): the library's tuned compilation (TunedCompilation) chooses per layer.
        options.convolutionChooser = ConvolutionAlgorithm(rawValue: convolution)?.chooser
        return options
    }

    /// `passOptions`, each layer's convolution timed alone when not fixed by `--convolution`
    /// (`--dump-ir` runs named passes, not the tuned compilation).
    var dumpOptions: PassOptions {
        var options = passOptions
        // Timed for the threads `--run` and `--extract-features` use (every core by default), so
        // that the IR shows their choices.
        if options.convolutionChooser == nil { options.convolutionChooser = ConvolutionTuning.chooser(threads: threads ?? BLASInfo.defaultThreads) }
        return options
    }

    /// The pipeline --passes names, or nil for the default one. An empty name (`verify,,dce`)
    /// is refused: it is more likely a typo than a wish to skip something.
    func pipelineNames() throws -> [String]? {
        guard let passes else { return nil }
        let names = passes.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.contains(where: \.isEmpty) else {
            throw ValidationError("--passes '\(passes)': empty pass name (give names separated by single commas; --list-passes shows them)")
        }
        return names
    }

    func printPasses() {
        let width = PassRegistry.all.map(\.name.count).max() ?? 0
        for p in PassRegistry.all { print(p.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + p.summary) }
    }
}

enum LearningRates {
    static func parse(_ s: String) throws -> [Float] {
        let parts = s.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var out: [Float] = []
        for p in parts {
            // The range is checked with the other settings (RecipeOverrides.check).
            guard let v = Float(p) else { throw ValidationError("--lr: '\(p)' is not a number") }
            out.append(v)
        }
        return out
    }
}
