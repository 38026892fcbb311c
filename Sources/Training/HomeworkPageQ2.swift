import Foundation
import Reports

/// Q2 on the homework page, from `q2/metrics.json` (`graphc graphs/cnn.swiftgraph --train`).
extension HomeworkPage {
    func question2(_ page: inout HTMLPage) throws {
        page.heading(2, "Question 2: a CNN on Fashion-MNIST")
        page.heading(3, "2.1 Equivariance")
        page.paragraph("A convolution is equivariant to translation: shifting the input shifts its feature maps by the same amount (up to the borders and the stride), "
            + "because the same kernel is applied at every position. This suits image classification because a pattern (an edge, a collar, a strap) means the same thing "
            + "wherever it appears: one set of weights detects it everywhere, which cuts the number of parameters and lets what is learnt at one position serve all others. "
            + "Max pooling then turns that equivariance into a little local invariance to translation.")

        page.heading(3, "2.2 Training with SGD and the learning-rate sweep")
        guard let m = try decode(ClassifierReport.MetricsJSON.self, "q2/metrics.json"), let best = m.configs.first(where: { $0.name == m.best }) else {
            missing(&page, part: "q2", what: "the learning-rate sweep")
            provenance(&page, part: "q2", details: [])
            return
        }
        let epochs = best.epochs.count
        page.paragraph("The network of the homework (conv 16 3x3 same padding, ReLU, max-pool 2; conv 32 3x3, ReLU, max-pool 2; linear 600, ReLU, dropout \(best.dropout.map { String($0) } ?? "as declared"); "
            + "linear 120, ReLU; linear 10, LogSoftmax), \(epochs) epoch\(epochs == 1 ? "" : "s") of \(best.optimizer.uppercased()) with batch \(best.batch_size) and L2 \(best.l2), one run per learning rate. Data: \(m.dataset).")
        page.table(headers: ["learning rate", "final training loss", "final validation accuracy", "test accuracy", "s / epoch"],
                   rows: m.configs.map { c in
                       let last = c.epochs.last, isBest = c.name == m.best
                       let secs = c.epochs.map(\.seconds).sorted()
                       func cell(_ s: String) -> [HTMLPage.Inline] { isBest ? [.strong(s)] : [.text(s)] }
                       return [cell("\(c.lr)" + (isBest ? " (best)" : "")), cell(last.map { HomeworkPage.f4($0.train_loss) } ?? "-"),
                               cell(last.map { HomeworkPage.f4($0.dev_accuracy) } ?? "-"), cell(c.test_accuracy.map(HomeworkPage.f4) ?? "-"),
                               [.text(secs.isEmpty ? "-" : String(format: "%.1f", secs[secs.count / 2]))]]
                   }, numeric: [1, 2, 3, 4])
        page.paragraph([.strong("Best configuration: learning rate \(best.lr)"),
                        .text(", chosen by the final validation accuracy (\(best.epochs.last.map { HomeworkPage.f4($0.dev_accuracy) } ?? "-")); its test accuracy is "),
                        .strong(best.test_accuracy.map(HomeworkPage.f4) ?? "-"), .text(". The training loss plotted is \(m.train_loss_is).")])
        figures(&page, [("q2/\(best.name)-training-loss.png", "Training loss per epoch, learning rate \(best.lr) (the best)"),
                        ("q2/\(best.name)-validation-accuracy.png", "Validation accuracy per epoch, learning rate \(best.lr) (the best)")], width: 480)
        page.paragraph("All three learning rates together:")
        figures(&page, [("q2/all-training-loss.png", "Training loss, every learning rate"),
                        ("q2/all-validation-accuracy.png", "Validation accuracy, every learning rate")], width: 480)

        page.heading(3, "2.3 Filters of the first and second convolutions")
        figures(&page, [("q2/conv1-filters.png", "First convolution: all 16 kernels (3x3), each min-max normalised"),
                        ("q2/conv2-filters.png", "Second convolution: input channel 0 of its 32 kernels")])
        page.paragraph("Bottom layers of a CNN usually capture low-level, local features: oriented edges, intensity gradients, blobs and simple textures. "
            + "Top layers combine them into larger, more abstract and more class-specific parts (sleeves, collars, soles, handles). "
            + "At 3x3 kernels on 28x28 images the patterns above are mostly small edge and gradient detectors, as the homework warns.")
        provenance(&page, part: "q2", details: ["Model \(m.model); seed \(best.seed) (weights, shuffling, dropout); \(m.threads) threads; OpenBLAS kernels \(m.blas_core).",
                                                "Per-epoch numbers: q2/metrics.json and one CSV per learning rate; the checkpoint of the best run: q2/best.safetensors."])
    }
}
