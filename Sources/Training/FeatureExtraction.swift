import Datasets
import Distributed
import Foundation
import GraphIR
import Passes
import Reports
import Runtime

/// `graphc graphs/resnet18.swiftgraph --extract-features --images DIR --out FILE`: encodes every
/// `N.tif` of a folder and writes the homework's `all_features.hdf5` layout (dataset `features`,
/// (images, regions, dim) float32, row = N - 1), plus `FILE.json` saying how it was made.
public enum FeatureExtraction {
    /// What to do with an unreadable image: leave its row zero and go on, or stop.
    public enum BadImagePolicy: String { case skip, stop }

    /// What was extracted and how; written beside the HDF5 file as `<file>.json`.
    public struct Summary: Codable {
        public var encoder: String
        public var weights: String
        public var pretrained: Bool
        public var images: Int
        public var rows: Int
        public var regions: Int
        public var dim: Int
        public var skipped: [String]
        public var seconds: Double
        public var seconds_per_image: Double
    }

    /// Encodes every `N.tif` of `images` with the encoder model `encoderFile` (its `weights`, a
    /// .pth or .safetensors file, or a seeded initialisation) into `out` (a .hdf5 file, or a
    /// folder to hold all_features.hdf5), the encoder compiled with `passes`. With `profile`,
    /// logs where the encoder's time went and its memory plan.
    @discardableResult
    public static func run(encoderFile: String, weights: String?, seed: UInt64 = 42, threads: Int? = nil, images dir: String,
                           out: String, policy: BadImagePolicy = .stop, limit: Int? = nil, passes: PassOptions = PassOptions(),
                           profile: Bool = false, reporter: TrainingReporter = SilentReporter()) throws -> Summary {
        // A folder is written whole (ResultsFolder, keeping what else it holds); a named
        // .hdf5 file is written atomically by itself, its summary beside it. Under mpirun each
        // rank encodes its share of the images and rank 0 alone writes.
        let writes = World.shared.rank == 0
        let reporter = writes ? reporter : SilentReporter()
        let folder = isFile(out) || !writes ? nil : try ResultsFolder(out)
        defer { folder?.discard() }
        let shown = outputPath(out)
        let out = folder.map { outputPath($0.staging) } ?? shown
        let full = try imageList(directory: dir)
        // `limit`: encode only the first images (quick runs); the file keeps a row for every
        // image of the folder, zero where none was encoded, so it still fits the dataset.
        var list = full
        if let n = limit { list.images = Array(full.images.prefix(n)) }
        for name in list.ignored.prefix(5) { reporter.log("note: \(dir)/\(name) is not named <number>.tif: ignored") }
        if list.ignored.count > 5 { reporter.log("note: \(list.ignored.count - 5) more files ignored") }
        let context = PassContext(options: passes)
        let encoder = try FeatureEncoder(file: encoderFile, weights: weights, seed: seed, threads: threads, context: context)
        reporter.compiled("encoder", context)
        reporter.log("graphc: \(encoderFile) over \(list.images.count) images of \(dir) -> \(shown)\nencoder: \(encoder.provenance)"
            + (list.images.count < full.images.count ? "\nnote: --limit \(list.images.count): the rows of the other \(full.images.count - list.images.count) images stay zero" : ""))
        // `profile`: per-op and per-node times of the encoder (which convolution algorithm
        // each layer runs shows in its op names and the kernel choices).
        if profile { encoder.executor.startProfiling(threads: encoder.threads) }
        let summary = try extract(list, rows: list.rows, encoder: encoder, policy: policy, to: out, reporter: reporter)
        if profile {
            reporter.log(ProfileReport(executor: encoder.executor, title: "encoding images").text)
            if let plan = encoder.executor.memorySummary { reporter.log(plan.description) }
        }
        try folder?.commit()
        reporter.result(String(format: "wrote %@: (%d, %d, %d) float32 from %d images in %.1f s (%.3f s per image)", shown, summary.rows,
                     summary.regions, summary.dim, summary.images, summary.seconds, summary.seconds_per_image))
        if !summary.skipped.isEmpty { reporter.result("skipped \(summary.skipped.count) unreadable images (their rows are zeros): \(summary.skipped.joined(separator: ", "))") }
        if !encoder.pretrained { reporter.result("note: the encoder ran from a seeded initialisation, not pretrained weights (pass --weights resnet18-f37072fd.pth for those)") }
        return summary
    }

    /// `--out` names the HDF5 file, or a folder to hold `all_features.hdf5`.
    public static func outputPath(_ out: String) -> String {
        isFile(out) ? out : (out as NSString).appendingPathComponent("all_features.hdf5")
    }

    static func isFile(_ out: String) -> Bool { out.hasSuffix(".hdf5") || out.hasSuffix(".h5") }

    public struct ImageList {
        /// (row = number - 1, file name)
        public var images: [(row: Int, name: String)]
        public var directory: String
        public var rows: Int
        public var ignored: [String]
    }

    /// The folder's `N.tif` (or `.tiff`) files in row order; other names are listed as ignored.
    public static func imageList(directory: String) throws -> ImageList {
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
        // Rows are sized by the largest number, so it is checked against the images present
        // (gaps are zero rows; at most as many gaps as images) before any row is allocated.
        guard last.row < 2 * images.count else {
            throw RuntimeError("\(directory)/\(last.name): image number \(last.row + 1) but the folder has only \(images.count) image\(images.count == 1 ? "" : "s") named <number>.tif (numbers must run 1...N with at most N gaps)")
        }
        return ImageList(images: images, directory: directory, rows: last.row + 1, ignored: ignored)
    }

    /// Encodes the listed images into a (rows, regions, dim) array and writes it to `path` with
    /// its summary. Unreadable images stop the run or leave a zero row, as `policy` says.
    @discardableResult
    public static func extract(_ list: ImageList, rows: Int, encoder: FeatureEncoder, policy: BadImagePolicy, to path: String,
                               reporter: TrainingReporter = SilentReporter(), world: World = .shared) throws -> Summary {
        let all = list
        var list = list
        if world.isDistributed { list.images = Array(all.images[Placement.share(of: all.images.count, rank: world.rank, size: world.size)]) }
        var features: [Float] = []
        var shape: (regions: Int, dim: Int)?
        var skipped: [String] = []
        reporter.begin("features", total: list.images.count)
        let start = Date()
        for (i, item) in list.images.enumerated() {
            let file = (list.directory as NSString).appendingPathComponent(item.name)
            do {
                let f = try encoder.encode(path: file)
                if shape == nil {
                    shape = (f.regions, f.dim)
                    let (size, overflow) = f.regions.multipliedReportingOverflow(by: f.dim)
                    let (count, overflow2) = rows.multipliedReportingOverflow(by: size)
                    guard !overflow, !overflow2, UInt64(count) * 4 <= ProcessInfo.processInfo.physicalMemory else {
                        throw RuntimeError("\(list.directory): \(rows) rows of \(f.regions) x \(f.dim) features do not fit this machine's memory")
                    }
                    features = [Float](repeating: 0, count: count)
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
                    reporter.end()
                    throw RuntimeError("\(e.description)\n(stopped at image \(i + 1) of \(list.images.count); pass --on-bad-image skip to leave such images out)")
                }
                reporter.log("skipped: \(e.description)")
                skipped.append(item.name)
            }
            reporter.itemsDone(i + 1)
        }
        reporter.end()
        var done = list.images.count - skipped.count
        if world.isDistributed {
            // Ranks encoded disjoint rows (zeros elsewhere): their sum is every row.
            let known = world.sum([shape == nil ? 0 : 1, Double(shape?.regions ?? 0), Double(shape?.dim ?? 0), Double(done)])
            if shape == nil && known[0] > 0 {
                shape = (Int(known[1] / known[0]), Int(known[2] / known[0]))
                features = [Float](repeating: 0, count: rows * Int(known[1] / known[0]) * Int(known[2] / known[0]))
            }
            if known[0] > 0 { world.sum(&features) }
            skipped = world.allGather(skipped.joined(separator: ","), maxBytes: 8192).flatMap { $0.split(separator: ",").map(String.init) }
            done = Int(known[3])
        }
        guard let s = shape else { throw RuntimeError("\(list.directory): none of the \(all.images.count) images could be read") }
        let seconds = Date().timeIntervalSince(start)
        guard world.rank == 0 else {
            return Summary(encoder: encoder.file, weights: encoder.provenance, pretrained: encoder.pretrained, images: done, rows: rows,
                           regions: s.regions, dim: s.dim, skipped: skipped, seconds: seconds, seconds_per_image: seconds / Double(max(done, 1)))
        }
        try HDF5Features.write(path: path, features: features, count: rows, regions: s.regions, dim: s.dim)
        let summary = Summary(encoder: encoder.file, weights: encoder.provenance, pretrained: encoder.pretrained,
                              images: done, rows: rows, regions: s.regions, dim: s.dim, skipped: skipped,
                              seconds: seconds, seconds_per_image: seconds / Double(max(done, 1)))
        try JSONReport.write(summary, to: path + ".json")
        return summary
    }

    /// The summary written beside a features file, if there is one.
    public static func summary(of path: String) -> Summary? {
        guard let data = FileManager.default.contents(atPath: path + ".json") else { return nil }
        return try? JSONDecoder().decode(Summary.self, from: data)
    }
}
