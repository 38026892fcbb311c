import Foundation
import GraphIR
import Passes
import Reports
import Runtime

/// Everything `--train` leaves in the results folder for Q2: metrics (JSON and CSV), plots,
/// the filters of both convolutions, the best checkpoint and a report answering the question.
struct ClassifierReport {
    let file: String
    let recipe: Recipe
    let forward: Graph
    let results: [ClassifierTraining.ConfigResult]
    let best: Int
    let outDir: String

    /// One configuration in metrics.json (the homework page reads it back).
    struct ConfigJSON: Codable {
        var name: String
        var lr: Float
        var optimizer: String
        var momentum: Float
        var dropout: Double?
        var l2: Float
        var batch_size: Int
        var seed: UInt64
        var epochs: [ClassifierTraining.Epoch]
        var test_accuracy: Double?
        /// Where training stopped on a NaN or an infinity; nil when it finished.
        var diverged: String? = nil
    }

    /// metrics.json: every configuration and the best one.
    struct MetricsJSON: Codable {
        var model: String
        var dataset = "Fashion-MNIST (homework split: 50,000 train / 10,000 dev / official 10,000 test; pixels / 256)"
        var train_loss_is = "the mean of the per-batch training losses of that epoch (the homework's script plotted a running mean over all batches so far)"
        var selection = "best final dev accuracy"
        var blas_core: String
        var threads: Int
        var configs: [ConfigJSON]
        var best: String
    }

    func path(_ name: String) -> String { (outDir as NSString).appendingPathComponent(name) }

    func configJSON(_ r: ClassifierTraining.ConfigResult) -> ConfigJSON {
        ConfigJSON(name: r.name, lr: r.learningRate, optimizer: recipe.optimizer, momentum: recipe.momentum, dropout: recipe.dropout,
                   l2: recipe.weightDecay, batch_size: recipe.batchSize, seed: recipe.seed, epochs: r.epochs, test_accuracy: r.testAccuracy,
                   diverged: r.diverged?.summary)
    }

    func write() throws {
        let configs = results.map(configJSON)
        try JSONReport.write(MetricsJSON(model: file, blas_core: BLASInfo.coreName, threads: recipe.threads, configs: configs,
                                         best: results[best].name), to: path("metrics.json"))
        for (r, c) in zip(results, configs) {
            try JSONReport.write(c, to: path("\(r.name).json"))
            try AtomicFile.write(csv(r), toPath: path("\(r.name).csv"))
            try plot(title: "Training loss, lr \(r.learningRate)", y: "training loss (epoch mean)", results: [r], \.train_loss)
                .write(png: path("\(r.name)-training-loss.png"))
            try plot(title: "Validation accuracy, lr \(r.learningRate)", y: "validation accuracy", results: [r], \.dev_accuracy)
                .write(png: path("\(r.name)-validation-accuracy.png"))
        }
        try plot(title: "Training loss", y: "training loss (epoch mean)", results: results, \.train_loss).write(png: path("all-training-loss.png"))
        try plot(title: "Validation accuracy", y: "validation accuracy", results: results, \.dev_accuracy).write(png: path("all-validation-accuracy.png"))
        let filters = try writeFilters(results[best].parameters)
        try results[best].parameters.save(to: path("best.safetensors"), metadata: ["model": file, "config": results[best].name])
        try AtomicFile.write(markdown(filters: filters), toPath: path("report.md"))
    }

    func csv(_ r: ClassifierTraining.ConfigResult) -> String {
        var s = "epoch,train_loss,dev_loss,dev_accuracy,seconds,images_per_second\n"
        for e in r.epochs {
            s += "\(e.epoch),\(e.train_loss),\(e.dev_loss),\(e.dev_accuracy),\(String(format: "%.3f", e.seconds)),\(String(format: "%.1f", e.images_per_second))\n"
        }
        return s
    }

    func plot(title: String, y: String, results rs: [ClassifierTraining.ConfigResult], _ key: KeyPath<ClassifierTraining.Epoch, Double>) -> LinePlot {
        var p = LinePlot(title: title, xLabel: "epoch", yLabel: y)
        for r in rs { p.add(label: "lr \(r.learningRate)", x: r.epochs.map { Double($0.epoch) }, y: r.epochs.map { $0[keyPath: key] }) }
        return p
    }

    /// Layer 1: all kernels; layer 2: input channel 0 of each kernel (as the homework draws
    /// them). The convolution weights are the first two rank-4 parameters in graph order.
    func writeFilters(_ store: ParameterStore) throws -> [String] {
        let convs = forward.parameters.filter { forward[$0].type.rank == 4 && forward[$0].attributes[.buffer] != true }
        var written: [String] = []
        for (layer, v) in convs.prefix(2).enumerated() {
            guard let name = forward[v].name, let w = store.get(name), w.shape.count == 4 else { continue }
            let (o, i, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
            guard let kernels = FilterGrid.kernels(weight: w.floats, outChannels: o, inChannels: i, kh: kh, kw: kw, inputChannel: 0) else { continue }
            let file = "conv\(layer + 1)-filters.png"
            let title = layer == 0 ? "\(name): \(o) kernels" : "\(name): input channel 0 of \(o) kernels"
            try FilterGrid.write(png: path(file), kernels: kernels, kh: kh, kw: kw, title: title)
            written.append(file)
        }
        return written
    }

    func markdown(filters: [String]) -> String {
        let b = results[best]
        var table = MarkdownTable(headers: ["config", "lr", "final train loss", "final dev accuracy", "test accuracy", "s/epoch"],
                                  alignments: [.left, .right, .right, .right, .right, .right])
        for r in results {
            let last = r.epochs.last
            let secs = r.epochs.map(\.seconds).sorted()
            table.rows.append([r.name, "\(r.learningRate)", last.map { String(format: "%.4f", $0.train_loss) } ?? "-",
                               r.diverged.map { "diverged (epoch \($0.epoch), step \($0.step))" } ?? last.map { String(format: "%.4f", $0.dev_accuracy) } ?? "-",
                               r.testAccuracy.map { String(format: "%.4f", $0) } ?? "-",
                               secs.isEmpty ? "-" : String(format: "%.1f", secs[secs.count / 2])])
        }
        let lrList = results.map { "\($0.learningRate)" }.joined(separator: ", ")
        var s = """
        # Q2: a CNN on Fashion-MNIST, trained by graphc

        Model: `\(file)` (\(ParameterCount.grouped(ParameterCount.report(forward).trainable)) parameters). Recipe: \(recipe.epochs) epochs, batch \(recipe.batchSize), \
        \(recipe.optimizer)\(recipe.momentum > 0 ? " (momentum \(recipe.momentum))" : ""), L2 \(recipe.weightDecay), \
        dropout \(recipe.dropout.map { String($0) } ?? "as in the model"), seed \(recipe.seed); learning rates swept: \(lrList).
        Data: the homework's split of the official training images (50,000 train / 10,000 dev, numpy `RandomState(42)`
        permutation), the official 10,000 test images, pixels divided by 256. OpenBLAS core \(BLASInfo.coreName), \(recipe.threads) thread\(recipe.threads == 1 ? "" : "s").

        ## Results

        \(table.render())

        **Best configuration: learning rate \(b.learningRate)** (`\(b.name)`), chosen by the final validation accuracy
        (\(String(format: "%.4f", b.epochs.last?.dev_accuracy ?? 0))); its test accuracy is
        **\(String(format: "%.4f", b.testAccuracy ?? 0))**. The training loss plotted is the mean of that epoch's batch losses
        (the homework's script plotted a running mean over all batches so far).

        ![training loss](\(b.name)-training-loss.png) ![validation accuracy](\(b.name)-validation-accuracy.png)

        \(results.filter { $0.diverged != nil }.map { "Configuration `\($0.name)` diverged: \($0.diverged?.summary ?? "")." }.joined(separator: "\n"))

        All configurations:

        ![training loss](all-training-loss.png) ![validation accuracy](all-validation-accuracy.png)

        ## Equivariance

        A convolution is equivariant to translation: shifting the input image shifts its feature maps by the same
        amount (up to border effects and the stride), because the same kernel is applied at every position.
        This is useful for classification because a pattern (an edge, a collar, a strap) means the same thing
        wherever it appears: one set of weights detects it everywhere, which cuts the number of parameters
        (\(ParameterCount.grouped(ParameterCount.report(forward).trainable)) here against millions for a comparable fully connected network)
        and lets what is learnt at one position generalise to all others. Max pooling then turns that
        equivariance into a small amount of local translation invariance.

        ## Filters

        """
        for f in filters { s += "![\(f)](\(f))\n" }
        s += """

        Layer 1 shows all 16 kernels (each min-max normalised to [0, 1], 8 per row); layer 2 shows input channel 0
        of its 32 kernels. Bottom layers of a CNN usually capture low-level, local features: oriented edges,
        intensity gradients, blobs and simple textures. Top layers combine them into larger, more abstract and
        more class-specific parts (shapes of sleeves, collars, soles, handles). At 3x3 and 28x28 pixels the
        kernels are small, so the patterns are mostly gradient and edge detectors.
        """
        return s
    }
}
