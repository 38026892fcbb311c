import Datasets
import GraphIR
import Foundation
import Reports
import Runtime

/// The caption model's report folder: training-loss and validation-BLEU plots, the homework's
/// three images (219, 540, 357) next to their generated captions, for an attention model a
/// strip of attention maps per image, and `report.md` tying them together.
struct CaptioningReport {
    static let showcase = ["219.tif", "540.tif", "357.tif"]
    static let thumbnail = 250

    let file: String
    let tag: String
    let metrics: CaptioningTraining.Metrics
    let data: SydneyCaptions
    let features: CaptioningFeatures
    let decoder: CaptionDecoder
    let store: ParameterStore
    let folder: String

    func write() throws {
        let x = metrics.epochs.map { Double($0.epoch) }
        try LinePlot(title: "\(tag): training loss", xLabel: "epoch", yLabel: "cross-entropy",
                     series: [(label: "train loss", x: x, y: metrics.train_loss)]).write(png: path("train_loss.png"))
        try LinePlot(title: "\(tag): validation BLEU-4", xLabel: "epoch", yLabel: "BLEU-4",
                     series: [(label: "val BLEU-4 (mean sentence)", x: x, y: metrics.val_bleu4),
                              (label: "val BLEU-4 (corpus)", x: x, y: metrics.epochs.map(\.val_corpus_bleu4))]).write(png: path("val_bleu4.png"))

        var md = "# \(tag): \(file)\n\n"
        md += "Features: \(features.provenance)\n\n"
        if !features.provenance.contains("weights from") {
            md += "**The encoder ran from a seeded initialisation, not from pretrained ImageNet weights**: the BLEU figures below are not comparable with the homework's pretrained-feature results (about 0.50 and 0.54 test BLEU-4).\n\n"
        }
        md += String(format: "Test BLEU-4: **%.4f** (mean sentence BLEU over %d images, as the homework; %@ decoding); corpus BLEU-4 %.4f.\n\n",
                     metrics.test_bleu4, metrics.test_images, metrics.settings["decoding"] ?? "greedy", metrics.test_corpus_bleu4)
        var table = MarkdownTable(headers: ["epoch", "train loss", "val BLEU-4", "val corpus BLEU-4", "train s", "decode s"],
                                  alignments: [.right, .right, .right, .right, .right, .right])
        for e in metrics.epochs {
            table.append(["\(e.epoch)", String(format: "%.4f", e.train_loss), String(format: "%.4f", e.val_bleu4),
                          String(format: "%.4f", e.val_corpus_bleu4), String(format: "%.1f", e.seconds), String(format: "%.1f", e.decode_seconds)])
        }
        md += table.render() + "\n\n"
        md += "Settings: " + metrics.settings.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n\n"
        md += "![training loss](train_loss.png) ![validation BLEU-4](val_bleu4.png)\n\n## Generated captions\n\n"
        md += "| image | generated caption (\(metrics.settings["decoding"] ?? "greedy")) |\n|---|---|\n"
        var strips = ""
        var captions: [String: String] = [:]
        for name in CaptioningReport.showcase {
            let rgb: (width: Int, height: Int, pixels: [UInt8])
            do { rgb = try TiffImage.readRGB(path: data.imagePath(name)) } catch {
                md += "| \(name) | (image unreadable: \(error)) |\n"
                continue
            }
            let caption = try decoder.decode(try features.batch([name]), parameters: store)
            let small = Image(rgb: rgb.pixels, width: rgb.width, height: rgb.height)
                .resized(width: CaptioningReport.thumbnail, height: CaptioningReport.thumbnail)
            let stem = (name as NSString).deletingPathExtension
            try PNG.write(small, to: path("\(stem).png"))
            let text = caption.tokens.joined(separator: " ")
            captions[name] = text
            md += "| ![\(name)](\(stem).png)<br>\(name) | \(text.isEmpty ? "(empty)" : text) |\n"
            if let maps = caption.alphas {
                let side = Int(Double(features.regions).squareRoot())
                let tile = Image(rgb: rgb.pixels, width: rgb.width, height: rgb.height).resized(width: 160, height: 160)
                let strip = try AttentionMap.strip(tile, maps: maps, words: caption.tokens, side: side, caption: name)
                try PNG.write(strip, to: path("\(stem)_attention.png"))
                strips += "### \(name)\n\n\(text)\n\n![attention maps of \(name)](\(stem)_attention.png)\n\n"
            }
        }
        if !strips.isEmpty {
            md += "\n## Where the decoder looked\n\nEach tile is the image lit by the attention weights (16x16 regions, upsampled) of the word under it.\n\n" + strips
        }
        try JSONReport.write(captions, to: path("showcase.json"))
        try AtomicFile.write(md, toPath: path("report.md"))
        try CaptioningReport.writeIndex(results: (folder as NSString).deletingLastPathComponent)
    }

    /// `results/report.md`: both decoders side by side, from whichever runs have metrics.
    static func writeIndex(results: String) throws {
        var table = MarkdownTable(headers: ["model", "test BLEU-4", "test corpus BLEU-4", "final val BLEU-4", "decoding", "s / epoch", "report"],
                                  alignments: [.left, .right, .right, .right, .left, .right, .left])
        var features: [String] = []
        for attention in [false, true] {
            let tag = CaptioningTraining.tag(attention: attention)
            let file = ((results as NSString).appendingPathComponent(tag) as NSString).appendingPathComponent("metrics.json")
            guard let bytes = FileManager.default.contents(atPath: file),
                  let m = try? JSONDecoder().decode(CaptioningTraining.Metrics.self, from: bytes) else { continue }
            table.append([tag, String(format: "%.4f", m.test_bleu4), String(format: "%.4f", m.test_corpus_bleu4),
                          m.val_bleu4.last.map { String(format: "%.4f", $0) } ?? "-", m.settings["decoding"] ?? "greedy",
                          String(format: "%.1f", m.seconds_per_epoch), "[\(tag)/report.md](\(tag)/report.md)"])
            if !features.contains(m.features) { features.append(m.features) }
        }
        guard !table.rows.isEmpty else { return }
        var md = "# Sydney-Captions decoders\n\n" + table.render() + "\n\nFeatures: " + features.joined(separator: "; ") + "\n"
        if features.contains(where: { !$0.contains("weights from") }) {
            md += "\nThe encoder ran from a seeded initialisation, not from pretrained ImageNet weights.\n"
        }
        try AtomicFile.write(md, toPath: (results as NSString).appendingPathComponent("report.md"))
    }

    func path(_ name: String) -> String { (folder as NSString).appendingPathComponent(name) }
}
