import ArgumentParser
import Foundation
import Runtime
import Training

/// The flags of --train, --eval, --bench and --extract-features as the Training library's settings.
extension Graphc {
    func recipeOverrides() throws -> RecipeOverrides {
        RecipeOverrides(epochs: epochs, batchSize: batchSize, learningRates: try lr.map(LearningRates.parse), optimizer: optimizer,
                        momentum: momentum, weightDecay: l2, gradClip: gradClip, seed: seed,
                        threads: threads, evalThreads: evalThreads)
    }

    var trainingOptions: TrainingOptions {
        var o = TrainingOptions(out: resultsFolder, profile: profile, passes: passOptions, data: data, limit: limit, features: features, cache: cache,
                                beam: beam, weights: eval ? weights ?? (ModelLoading.isONNX(files[0]) ? files[0] : nil) : nil,
                                onBadImage: badImagePolicy, stepLosses: stepLosses, onnx: onnxTask)
        o.checkNumerics = NumericsCheckMode(rawValue: checkNumerics) ?? .auto
        o.fusesOptimizerStep = fusedUpdate != "off"
        return o
    }

    /// --dataset, --label and --loss: an ONNX model's training, which it cannot declare.
    var onnxTask: ONNXTask {
        ONNXTask(dataset: dataset.flatMap(ONNXTask.datasetName), label: label ?? "label", loss: loss)
    }

    func validateONNXTask() throws {
        guard dataset != nil || label != nil || loss != nil else { return }
        guard files.allSatisfy(ModelLoading.isONNX) else {
            throw ValidationError("--dataset, --label and --loss go with an .onnx model (a .swiftgraph names its data in train(on:))")
        }
        if let d = dataset, ONNXTask.datasetName(d) == nil { throw ValidationError("--dataset must be fashion-mnist, got '\(d)'") }
        if dataset == nil { throw ValidationError("--label and --loss go with --dataset") }
        if let l = loss, !ONNXTask.losses.contains(l) { throw ValidationError("--loss must be nll or cross-entropy, got '\(l)'") }
        if let l = label, l.isEmpty { throw ValidationError("--label must not be empty") }
    }

    /// The console, printing each compilation's pass statistics with `--pass-stats`.
    var reporter: ConsoleReporter { ConsoleReporter(passStatistics: passStats) }

    /// `validate` has checked the name.
    var badImagePolicy: FeatureExtraction.BadImagePolicy { FeatureExtraction.BadImagePolicy(rawValue: onBadImage) ?? .stop }

    func benchSettings() throws -> Bench.Settings {
        let batches = try benchBatches.split(separator: ",").map { s -> Int in
            guard let b = Int(s.trimmingCharacters(in: .whitespaces)), b > 0 else { throw RuntimeError("--bench-batches: '\(s)' is not a positive batch size") }
            return b
        }
        var settings = Bench.Settings(batches: batches, evalBatch: benchEvalBatch, repeats: benchRepeats, seconds: benchSeconds,
                                      memoryPlan: memoryPlan != "off", passes: passOptions, profile: profile)
        settings.fusesOptimizerStep = fusedUpdate != "off"
        settings.unfusedPairs = benchPairs
        return settings
    }
}
