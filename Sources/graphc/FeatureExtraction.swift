import Datasets
import Foundation
import GraphIR
import Reports
import Runtime

/// `graphc graphs/resnet18.swiftgraph --extract-features --images DIR --out FILE`: encodes every
/// `N.tif` of a folder and writes the homework's `all_features.hdf5` layout (dataset `features`,
/// (images, regions, dim) float32, row = N - 1), plus `FILE.json` saying how it was made.
enum FeatureExtraction {
    enum BadImagePolicy: String { case skip, stop }

    /// What was extracted and how; written beside the HDF5 file as `<file>.json`.
    struct Summary: Codable {
        var encoder: String
        var weights: String
        var pretrained: Bool
        var images: Int
        var rows: Int
        var regions: Int
        var dim: Int
        var skipped: [String]
        var seconds: Double
        var seconds_per_image: Double
    }

    static func run(command c: Graphc) throws {
        guard let dir = c.images else { throw RuntimeError("--extract-features needs --images DIR") }
        let out = outputPath(c.out)
        let list = try imageList(directory: dir)
        for name in list.ignored.prefix(5) { Training.banner("note: \(dir)/\(name) is not named <number>.tif: ignored") }
        if list.ignored.count > 5 { Training.banner("note: \(list.ignored.count - 5) more files ignored") }
        let encoder = try FeatureEncoder(file: c.files[0], weights: c.weights, seed: c.seed ?? 42, threads: c.threads)
        Training.banner("graphc: \(c.files[0]) over \(list.images.count) images of \(dir) -> \(out)\nencoder: \(encoder.provenance)")
        let policy = BadImagePolicy(rawValue: c.onBadImage) ?? .stop
        let summary = try extract(list, rows: list.rows, encoder: encoder, policy: policy, to: out)
        print(String(format: "wrote %@: (%d, %d, %d) float32 from %d images in %.1f s (%.3f s per image)", out, summary.rows,
                     summary.regions, summary.dim, summary.images, summary.seconds, summary.seconds_per_image))
        if !summary.skipped.isEmpty { print("skipped \(summary.skipped.count) unreadable images (their rows are zeros): \(summary.skipped.joined(separator: ", "))") }
        if !encoder.pretrained { print("note: the encoder ran from a seeded initialisation, not pretrained weights (pass --weights resnet18-f37072fd.pth for those)") }
    }

    /// `--out` names the HDF5 file, or a folder to hold `all_features.hdf5`.
    static func outputPath(_ out: String) -> String {
        out.hasSuffix(".hdf5") || out.hasSuffix(".h5") ? out : (out as NSString).appendingPathComponent("all_features.hdf5")
    }

    struct ImageList {
        /// (row = number - 1, file name)
        var images: [(row: Int, name: String)]
        var directory: String
        var rows: Int
        var ignored: [String]
    }

    /// The folder's `N.tif` (or `.tiff`) files in row order; other names are listed as ignored.
    static func imageList(directory: String) throws -> ImageList {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw RuntimeError("\(directory): no such folder of images")
        }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: directory) } catch {
            throw RuntimeError("\(directory): cannot list the folder (\(error.localizedDescription))")
        }
        var images: [(row: Int, name: String)] = []
        var ignored: [String] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let stem = name.hasSuffix(".tiff") ? String(name.dropLast(5)) : name.hasSuffix(".tif") ? String(name.dropLast(4)) : nil
            if let stem, let n = Int(stem), n >= 1, String(n) == stem { images.append((n - 1, name)) } else { ignored.append(name) }
        }
        images.sort { $0.row < $1.row }
        guard let last = images.last else { throw RuntimeError("\(directory): no images named <number>.tif in this folder") }
        return ImageList(images: images, directory: directory, rows: last.row + 1, ignored: ignored)
    }

    /// Encodes the listed images into a (rows, regions, dim) array and writes it to `path` with
    /// its summary. Unreadable images stop the run or leave a zero row, as `policy` says.
    @discardableResult
    static func extract(_ list: ImageList, rows: Int, encoder: FeatureEncoder, policy: BadImagePolicy, to path: String) throws -> Summary {
        var features: [Float] = []
        var shape: (regions: Int, dim: Int)?
        var skipped: [String] = []
        let bar = ProgressBar(total: list.images.count, label: "features")
        let start = Date()
        for (i, item) in list.images.enumerated() {
            let file = (list.directory as NSString).appendingPathComponent(item.name)
            do {
                let f = try encoder.encode(path: file)
                if shape == nil {
                    shape = (f.regions, f.dim)
                    features = [Float](repeating: 0, count: rows * f.regions * f.dim)
                }
                let size = f.regions * f.dim
                features.withUnsafeMutableBufferPointer { dst in
                    f.values.withUnsafeBufferPointer { src in
                        guard let d = dst.baseAddress, let s = src.baseAddress else { return }
                        d.advanced(by: item.row * size).update(from: s, count: size)
                    }
                }
            } catch let e as FileError {
                guard policy == .skip else {
                    bar.finish()
                    throw RuntimeError("\(e.description)\n(stopped at image \(i + 1) of \(list.images.count); pass --on-bad-image skip to leave such images out)")
                }
                bar.note("skipped: \(e.description)")
                skipped.append(item.name)
            }
            bar.update(done: i + 1)
        }
        bar.finish()
        guard let s = shape else { throw RuntimeError("\(list.directory): none of the \(list.images.count) images could be read") }
        let seconds = Date().timeIntervalSince(start)
        try HDF5Features.write(path: path, features: features, count: rows, regions: s.regions, dim: s.dim)
        let done = list.images.count - skipped.count
        let summary = Summary(encoder: encoder.file, weights: encoder.provenance, pretrained: encoder.pretrained,
                              images: done, rows: rows, regions: s.regions, dim: s.dim, skipped: skipped,
                              seconds: seconds, seconds_per_image: seconds / Double(max(done, 1)))
        try JSONReport.write(summary, to: path + ".json")
        return summary
    }

    /// The summary written beside a features file, if there is one.
    static func summary(of path: String) -> Summary? {
        guard let data = FileManager.default.contents(atPath: path + ".json") else { return nil }
        return try? JSONDecoder().decode(Summary.self, from: data)
    }
}

/// A one-line bar for work counted in items (images), redrawn in place on a terminal.
final class ProgressBar {
    let total: Int
    let label: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let isTerminal = isatty(STDERR_FILENO) != 0

    init(total: Int, label: String) { self.total = total; self.label = label }

    /// On a terminal the bar is redrawn at most five times a second; into a file (a log) a
    /// line is written at every tenth of the work instead.
    func update(done: Int) {
        let now = Date()
        if isTerminal {
            guard now.timeIntervalSince(lastDraw) > 0.2 || done == total else { return }
        } else {
            guard total > 0, done * 10 / total != (done - 1) * 10 / total else { return }
        }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let width = 30
        let filled = total > 0 ? width * min(done, total) / total : width
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let eta = done > 0 ? elapsed / Double(done) * Double(total - done) : .infinity
        let line = String(format: "%@%@ [%@] %d/%d  %.2f s/image  ETA %@%@", isTerminal ? "\r" : "", label, bar, done, total,
                          elapsed / Double(max(done, 1)), Progress.clock(eta), isTerminal ? "   " : "\n")
        FileHandle.standardError.write(Data(line.utf8))
    }

    /// A permanent line above the bar.
    func note(_ text: String) {
        let prefix = isTerminal ? "\r\u{1B}[K" : ""
        FileHandle.standardError.write(Data((prefix + text + "\n").utf8))
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
