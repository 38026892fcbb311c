import Foundation
import Reports

/// Q3 on the homework page: both decoders' training curves and test BLEU-4 (greedy, as the
/// homework, and beam 3 from `q3/beam3`), the captions of 219, 540 and 357 beside the images,
/// and the attention decoder's maps per word.
extension HomeworkPage {
    func question3(_ page: inout HTMLPage) throws {
        page.heading(2, "Question 3: image captioning on Sydney-Captions")
        let runs = try [false, true].map { attention -> (tag: String, metrics: CaptioningTraining.Metrics?, beam: CaptioningTraining.Evaluation?) in
            let tag = CaptioningTraining.tag(attention: attention)
            return (tag, try decode(CaptioningTraining.Metrics.self, "q3/\(tag)/metrics.json"),
                    try decode(CaptioningTraining.Evaluation.self, "q3/beam3/\(tag)/evaluation.json"))
        }
        if let m = runs.compactMap(\.metrics).first {
            page.paragraph([.text("Features: \(m.features).")], note: true)
            if !m.features.contains("weights from") {
                page.paragraph([.strong("The encoder ran from a seeded initialisation, not from ResNet-18's pretrained ImageNet weights"),
                                .text(" (none were given), so these BLEU-4 scores are not comparable with the homework's pretrained-feature results (about 0.50 and 0.54). "
                                      + "With the weights file the homework uses: "), .code("HOMEWORK_ENCODER_WEIGHTS=resnet18-f37072fd.pth ./scripts/homework.sh q3"),
                                .text(", or the course's features: "), .code("HOMEWORK_FEATURES=all_features.hdf5 ./scripts/homework.sh q3"), .text(".")])
            }
            if m.train_captions < 2485 {
                page.paragraph([.strong("Quick run: "), .text("\(m.train_captions) training captions, \(m.val_images) validation and \(m.test_images) test images, \(m.epochs.count) epoch(s); the numbers only show the pipeline works.")])
            }
        }
        for (index, run) in runs.enumerated() {
            let attention = index == 1
            page.heading(3, attention ? "3.2 Decoder with additive attention" : "3.1 Vanilla encoder-decoder (LSTM)")
            page.paragraph(attention
                ? "At each step additive attention scores the 256 image regions against the hidden state (Linear 512→100 on the regions plus Linear 256→100 on h, ReLU, Linear 100→1, softmax over the regions); the LSTM's input is the word's embedding concatenated with the weighted sum of the regions."
                : "The mean of the 256 region features initialises the LSTM's h and c (two Linear 512→256); at each step the LSTM cell reads the current word's embedding, and dropout then a linear layer turn its hidden state into scores over the vocabulary.")
            guard let m = run.metrics else {
                missing(&page, part: "q3", what: "the \(run.tag) decoder")
                continue
            }
            page.table(headers: ["decoding", "test BLEU-4 (mean sentence, as the homework)", "test corpus BLEU-4", "test images"],
                       rows: [[[.text("greedy (the homework's)")], [.strong(HomeworkPage.f4(m.test_bleu4))], [.text(HomeworkPage.f4(m.test_corpus_bleu4))], [.text("\(m.test_images)")]]]
                           + (run.beam.map { b in [[[.text(b.decoding)], [.strong(HomeworkPage.f4(b.test_bleu4))], [.text(HomeworkPage.f4(b.test_corpus_bleu4))], [.text("\(b.test_images)")]]] } ?? []),
                       numeric: [1, 2, 3])
            page.table(headers: ["epoch", "training loss", "validation BLEU-4", "validation corpus BLEU-4", "train s", "decode s"],
                       rows: m.epochs.map { e in [[.text("\(e.epoch)")], [.text(HomeworkPage.f4(e.train_loss))], [.text(HomeworkPage.f4(e.val_bleu4))],
                                                  [.text(HomeworkPage.f4(e.val_corpus_bleu4))], [.text(String(format: "%.1f", e.seconds))], [.text(String(format: "%.1f", e.decode_seconds))]] },
                       numeric: [0, 1, 2, 3, 4, 5])
            figures(&page, [("q3/\(run.tag)/train_loss.png", "Training loss per epoch (cross-entropy over the real words)"),
                            ("q3/\(run.tag)/val_bleu4.png", "Validation BLEU-4 per epoch (greedy decoding)")], width: 480)
            let s = m.settings
            var details = ["Model \(m.model): \(s["epochs"] ?? "?") epochs, batch \(s["batch_size"] ?? "?"), \(s["optimizer"] ?? "?") lr \(s["lr"] ?? "?"), dropout \(s["dropout"] ?? "?"), gradient clip \(s["grad_clip"] ?? "?"); seed \(s["seed"] ?? "?"); \(s["threads"] ?? "?") threads; OpenBLAS kernels \(s["blas_core"] ?? "?"); \(String(format: "%.1f", m.seconds_per_epoch)) s of training per epoch."]
            if let b = run.beam { details.append("\(b.decoding.prefix(1).uppercased() + b.decoding.dropFirst()): the trained weights (q3/\(run.tag)/decoder.safetensors) decoded again, \(HomeworkPage.duration(b.seconds)) for the validation and test images.") }
            page.paragraph([.text(details.joined(separator: " "))], note: true)
        }

        page.heading(3, "3.3 Generated captions of 219.tif, 540.tif and 357.tif (attention decoder)")
        let attention = runs[1]
        let folder = "q3/\(attention.tag)"
        let greedy = (try? decode([String: String].self, "\(folder)/showcase.json")) ?? nil
        let vanilla = (try? decode([String: String].self, "q3/\(runs[0].tag)/showcase.json")) ?? nil
        if greedy == nil && attention.metrics == nil {
            missing(&page, part: "q3", what: "the captions")
        }
        for name in CaptioningReport.showcase {
            let stem = (name as NSString).deletingPathExtension
            guard let g = greedy?[name], exists("\(folder)/\(stem).png") else { continue }
            var text: [[HTMLPage.Inline]] = [[.strong(name)], [.text("greedy: "), .strong(g.isEmpty ? "(empty)" : g)]]
            if let b = attention.beam, let c = b.showcase[name] { text.append([.text("\(b.decoding): "), .text(c.isEmpty ? "(empty)" : c)]) }
            if let v = vanilla?[name] { text.append([.text("vanilla decoder, greedy: "), .text(v.isEmpty ? "(empty)" : v)]) }
            page.imageBeside(src: "\(folder)/\(stem).png", alt: name, width: 250, text)
        }
        let strips = CaptioningReport.showcase.map { ($0 as NSString).deletingPathExtension }.filter { exists("\(folder)/\($0)_attention.png") }
        if !strips.isEmpty {
            page.heading(3, "Where the attention decoder looked, word by word")
            page.paragraph("Each tile is the image lit by the attention weights (16x16 regions, upsampled) of the word under it, for the greedy caption above.")
            figures(&page, strips.map { ("\(folder)/\($0)_attention.png", "\($0).tif: " + (greedy?["\($0).tif"] ?? "")) })
        }
        var extra: [String] = []
        if let m = runs.compactMap(\.metrics).first {
            extra.append("Data: \(m.train_captions) training captions, \(m.val_images) validation and \(m.test_images) test images; BLEU-4 as nltk's sentence_bleu (no smoothing) averaged over images.")
        }
        provenance(&page, part: "q3", details: extra)
    }
}
