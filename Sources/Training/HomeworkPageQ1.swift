import Foundation
import Frontend
import Passes
import Reports

/// Q1 on the homework page: the two parameter counts and their comparison, then the
/// self-attention questions answered by derivation and shown numerically (`q1/study.json`).
extension HomeworkPage {
    func question1(_ page: inout HTMLPage) throws {
        page.heading(2, "Question 1: parameters, and two self-attention heads")
        page.heading(3, "1.1 Parameters of the CNN and of the fully connected network")
        let cnnFile = (graphs as NSString).appendingPathComponent("q1_cnn.swiftgraph")
        let mlpFile = (graphs as NSString).appendingPathComponent("q1_mlp.swiftgraph")
        let (cnn, cnnRows) = try Frontend.lowerWithSummary(path: cnnFile)
        let (mlp, mlpRows) = try Frontend.lowerWithSummary(path: mlpFile)
        let cnnTotal = ParameterCount.report(cnn).total, mlpTotal = ParameterCount.report(mlp).total
        for (title, rows, total) in [("CNN: 28x28x3 input, conv 8 kernels 5x5x3 (stride 1, no padding), max-pool 4x4 stride 2, linear 10, softmax", cnnRows, cnnTotal),
                                     ("Fully connected: 28x28x3 input flattened, linear 100, linear 10, softmax", mlpRows, mlpTotal)] {
            page.table(headers: ["layer", "type", "output shape", "parameters"],
                       rows: rows.map { [[.code($0.name)], [.text($0.type)], [.text("\($0.outputShape)")], [.text(ParameterCount.grouped($0.parameters))]] }
                           + [[[.strong("total")], [], [], [.strong(ParameterCount.grouped(total))]]],
                       numeric: [3], caption: title)
        }
        let ratio = Double(mlpTotal) / Double(max(cnnTotal, 1))
        page.paragraph([.strong("Answer: the CNN has \(ParameterCount.grouped(cnnTotal)) parameters; the fully connected network has \(ParameterCount.grouped(mlpTotal)), \(String(format: "%.1f", ratio)) times as many.")])
        page.paragraph("The convolution's 8 kernels of 5x5x3 weights (plus 8 biases) are shared by every position of the image, so its cost does not depend on the image size; "
            + "pooling has no parameters and shrinks the 24x24 maps to 11x11 before the linear layer. The fully connected layer instead gives each of its 100 hidden units "
            + "its own weight for every one of the 2,352 input values, so almost all of its parameters sit in that first layer, and it would grow with the image. "
            + "The CNN is far smaller and builds in that the same pattern means the same thing anywhere in the image; the MLP must learn that from data, "
            + "which takes more data and overfits more easily.")
        if let text = try? String(contentsOfFile: path("q1/count-params.txt"), encoding: .utf8) {
            page.details("graphc's own output (--count-params on both models)", preformatted: text)
        }

        page.heading(3, "1.2 Self-attention probabilities as Softmax(X A(h) Xᵀ), rank(A(h)) ≤ d")
        page.paragraph("Head h projects the sequence to queries Q = X W_Q(h) and keys K = X W_K(h), with W_Q(h), W_K(h) of size n x d, and its probabilities are the rows of "
            + "Softmax(Q Kᵀ / √d) = Softmax(X W_Q(h) W_K(h)ᵀ Xᵀ / √d) = Softmax(X A(h) Xᵀ) with A(h) = W_Q(h) W_K(h)ᵀ / √d, an n x n matrix. "
            + "Its rank is at most d, because the rank of a product is at most the rank of each factor and W_Q(h) has only d columns.")
        let study = try decode(SelfAttentionStudy.Result.self, "q1/study.json")
        if let s = study {
            page.paragraph("graphc ran graphs/q1_attention.swiftgraph (L = \(s.L) tokens, n = \(s.n), d = \(s.d)) on a seeded random X; the singular values of its outputs A1 and A2 are:")
            page.table(headers: ["matrix"] + (1...s.n).map { "σ\($0)" } + ["rank"],
                       rows: ["A1", "A2"].map { name in
                           [[.code(name)]] + (s.singular_values[name] ?? []).map { [.text(String(format: "%.3g", $0))] }
                               + [[.strong("\(s.ranks[name] ?? 0)")]]
                       }, numeric: Set(1...(s.n + 1)))
            let values = s.singular_values["A1"] ?? []
            if values.count > s.d, values[s.d] > 0 {
                page.paragraph("Exactly \(s.d) singular values are of the size of the entries; the other \(s.n - s.d) are float32 rounding, σ\(s.d) / σ\(s.d + 1) = \(String(format: "%.1e", values[s.d - 1] / values[s.d])) for A1 (the rank counts values above \(SelfAttentionStudy.rankTolerance) times the largest).")
            }
        } else {
            missing(&page, part: "q1", what: "the singular values of A(h)")
        }

        page.heading(3, "1.3 Heads related by an invertible B give the same probabilities")
        page.paragraph("If W_Q(2) = W_Q(1) B and W_K(2) = W_K(1) B⁻ᵀ, then A(2) = W_Q(1) B (W_K(1) B⁻ᵀ)ᵀ / √d = W_Q(1) B B⁻¹ W_K(1)ᵀ / √d = A(1), "
            + "so X A(2) Xᵀ = X A(1) Xᵀ and the two heads' probabilities are exactly the same, for every input X. "
            + "The heads' queries and keys differ (B mixes the d coordinates); only their products, which is all the probabilities depend on, agree.")
        if let s = study {
            page.table(headers: ["heads", "max |P1 − P2| over all \(s.L)x\(s.L) entries"],
                       rows: [[[.text("unrelated (both seeded)")], [.text(String(format: "%.3g", s.unrelated_max_difference))]],
                              [[.text("head 2 = head 1 with B")], [.strong(String(format: "%.3g", s.related_max_difference))]]], numeric: [1])
            page.paragraph("B (seeded: the identity plus uniform noise; singular values "
                + s.b_singular_values.map { String(format: "%.3f", $0) }.joined(separator: ", ") + ", so it is invertible):")
            page.preformatted(s.b.map { $0.map { String(format: "%8.4f", $0) }.joined(separator: " ") }.joined(separator: "\n"))
            page.paragraph("First row of each head's probabilities with the related heads (a distribution over the \(s.L) tokens):")
            page.preformatted("P1: " + s.p1_first_row.map { String(format: "%.6f", $0) }.joined(separator: "  ")
                + "\nP2: " + s.p2_first_row.map { String(format: "%.6f", $0) }.joined(separator: "  "))
            page.paragraph([.text("The related weights, X and the outputs are in "), .link("q1/heads.safetensors", href: "q1/heads.safetensors"), .text(", "),
                            .link("q1/X.npy", href: "q1/X.npy"), .text(" and "), .link("q1/outputs.npz", href: "q1/outputs.npz"),
                            .text("; "), .code("graphc graphs/q1_attention.swiftgraph --run --weights results/q1/heads.safetensors --inputs X=results/q1/X.npy"),
                            .text(" runs them again.")])
            provenance(&page, part: "q1", details: ["Seed \(s.seed) (weights), \(s.seed &+ 1) (X), \(s.seed &+ 2) (B); \(s.threads) threads; OpenBLAS kernels \(s.blas_core); the study took \(HomeworkPage.duration(s.seconds))."])
        } else {
            missing(&page, part: "q1", what: "the two heads' probabilities")
            provenance(&page, part: "q1", details: [])
        }
    }
}
