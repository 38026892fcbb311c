import Datasets
import Foundation
import GraphIR
import Passes
import Runtime

/// The encoder features every Sydney-Captions image needs, in memory: (rows, regions, dim)
/// with row = image number - 1, from a features file or computed once and cached.
public struct CaptioningFeatures {
    public var values: [Float] { didSet { table = Table() } }
    public var rows: Int
    public var regions: Int
    public var dim: Int
    /// Where they came from, for the console and the report.
    public var provenance: String
    /// Which values these are, for `ReducedRows`: a new one whenever the values change.
    private var table = Table()
    final class Table {}

    public init(values: [Float], rows: Int, regions: Int, dim: Int, provenance: String) {
        self.values = values
        self.rows = rows
        self.regions = regions
        self.dim = dim
        self.provenance = provenance
    }

    /// [names.count, regions, dim] for the images `names` (N.tif).
    public func batch(_ names: [String]) throws -> HostTensor {
        let rows = try names.map(row(of:))
        // Every value is copied from a row: no zero fill first (a batch is megabytes).
        let out = [Float](unsafeUninitializedCapacity: rows.count * regions * dim) { dst, initialized in
            if let d = dst.baseAddress { Self.copy(rows, of: values, rowSize: regions * dim, to: UnsafeMutableRawPointer(d)) }
            initialized = dst.count
        }
        return HostTensor(shape: [names.count, regions, dim], floats: out)
    }

    /// The same batch as `batch(_:)`, written straight into the executor's input memory (see
    /// `FeedWriter`): the training loop's batches are not copied twice. The copy is split over
    /// the executor's pool (a memory-bound loop: chunks of its tuned grain). For a decoder that
    /// reads the features only through their mean over the regions (`reduced-inputs`), each
    /// image's row is averaged where it lies in the table instead: the batch is never copied.
    /// `reducedRows`: where the training loop keeps each image's reduced row once computed
    /// (an image has several captions, so it comes back within an epoch); rows it holds are
    /// copied, not read from the table again; handed another table (or these features after
    /// their values changed), it starts afresh.
    public func batchWriter(_ names: [String], reducedRows: ReducedRows? = nil) throws -> FeedWriter {
        let rows = try names.map(row(of:))
        let rowSize = regions * dim
        return FeedWriter(shape: [names.count, regions, dim], write: { [values] p, pool in
            Self.copy(rows, of: values, rowSize: rowSize, to: p, pool: pool)
        }, writeReduced: { [values, table] feed, p, pool in
            values.withUnsafeBufferPointer { buffer in
                guard let base = buffer.baseAddress else { return }   // no rows: row(of:) let none through
                if let kept = reducedRows {
                    kept.write(rows, feed, of: table, into: p.assumingMemoryBound(to: Float.self), pool: pool) { base + $0 * rowSize }
                } else {
                    feed.reduce(items: { base + rows[$0] * rowSize }, into: p, pool: pool)
                }
            }
        })
    }

    /// Images' features reduced as a graph takes them (`ReducedFeed`), kept by table row: the
    /// features are frozen, so an image's reduced row is computed once per training run. The
    /// rows are those `ReducedFeed.batch(of:)` computes, the bits a whole batch gives them.
    public final class ReducedRows {
        /// The reduction and the table the kept rows were made from; another one starts afresh.
        private var reduction: FeedReduction?
        private var table: Table?
        private var itemShape: [Int] = []
        private var kept: [Int: [Float]] = [:]

        public init() {}

        /// Rows kept (for tests and memory accounting).
        public var count: Int { kept.count }

        /// `rows`' reduced values one after another at `out`: the missing ones reduced first
        /// (together, over `pool`) from `item(row)`.
        func write(_ rows: [Int], _ feed: ReducedFeed, of table: Table, into out: UnsafeMutablePointer<Float>,
                   pool: WorkerPool, item: (Int) -> UnsafePointer<Float>) {
            let shape = Array(feed.fedShape.dropFirst())
            if reduction != feed.reduction || itemShape != shape || self.table !== table {
                reduction = feed.reduction; itemShape = shape; self.table = table; kept = [:]
            }
            var missing: [Int] = []
            for r in rows where kept[r] == nil && !missing.contains(r) { missing.append(r) }
            let n = feed.reducedItemCount
            if !missing.isEmpty {
                var fresh = [Float](repeating: 0, count: missing.count * n)
                fresh.withUnsafeMutableBytes { b in
                    guard let p = b.baseAddress else { return }
                    feed.batch(of: missing.count).reduce(items: { item(missing[$0]) }, into: p, pool: pool)
                }
                for (i, r) in missing.enumerated() { kept[r] = Array(fresh[(i * n)..<((i + 1) * n)]) }
            }
            for (i, r) in rows.enumerated() {
                kept[r]?.withUnsafeBufferPointer { if let s = $0.baseAddress { (out + i * n).update(from: s, count: n) } }
            }
        }
    }

    /// Rows `rows` (checked by `row(of:)`) of `values`, one after another at `p`.
    private static func copy(_ rows: [Int], of values: [Float], rowSize: Int, to p: UnsafeMutableRawPointer, pool: WorkerPool = .serial) {
        values.withUnsafeBytes { src in
            guard let s = src.baseAddress else { return }
            pool.parallelFor(rows.count * rowSize, grain: pool.memoryBoundGrain) { _, range in
                // The batch's elements in `range`, a piece of a row at a time.
                var i = range.lowerBound
                while i < range.upperBound {
                    let (r, offset) = i.quotientAndRemainder(dividingBy: rowSize)
                    let n = min(rowSize - offset, range.upperBound - i)
                    (p + i * 4).copyMemory(from: s + (rows[r] * rowSize + offset) * 4, byteCount: n * 4)
                    i += n
                }
            }
        }
    }

    public func row(of name: String) throws -> Int {
        guard let n = SydneyCaptions.imageNumber(name) else { throw RuntimeError("image '\(name)' is not named <number>.tif: no features row") }
        guard n <= rows else { throw RuntimeError("the features (\(provenance)) have \(rows) rows but image \(name) needs row \(n - 1)") }
        // The public init takes `values` as given: the copies read row n - 1 unchecked.
        let (size, o1) = regions.multipliedReportingOverflow(by: dim), (end, o2) = n.multipliedReportingOverflow(by: size)
        guard regions >= 0, dim >= 0, !o1, !o2, end <= values.count else {
            throw RuntimeError("the features (\(provenance)) hold \(values.count) values, not \(rows) rows of \(regions) x \(dim): no row \(n - 1) for image \(name)")
        }
        return n - 1
    }

    /// `--features FILE` when given; else the cache's file for the seeded encoder, computing it
    /// with `encoderFile` (compiled with `passes`) on first use. Checks the shape against what
    /// the decoder expects.
    public static func load(featuresFile: String?, cacheDirectory: String, data: SydneyCaptions, encoderFile: String,
                     regions: Int, dim: Int, threads: Int?,
                     onBadImage: FeatureExtraction.BadImagePolicy = .stop, passes: PassOptions = PassOptions(),
                     reporter: TrainingReporter = SilentReporter()) throws -> CaptioningFeatures {
        let path: String
        var provenance: String
        if let f = featuresFile {
            path = f
            provenance = f
            if let s = FeatureExtraction.summary(of: f) { provenance += " (encoder \(s.encoder): \(s.weights))" }
        } else {
            try checkOutside(cache: cacheDirectory, data: data.directory)
            let seed: UInt64 = 42
            path = (cacheDirectory as NSString).appendingPathComponent("sydney-resnet18-seeded\(seed).hdf5")
            if !FileManager.default.fileExists(atPath: path) {
                guard FileManager.default.fileExists(atPath: encoderFile) else {
                    throw RuntimeError("no features: pass --features all_features.hdf5, or keep the encoder \(encoderFile) beside the model so graphc can compute them")
                }
                let list = try FeatureExtraction.imageList(directory: data.imagesDirectory)
                let context = PassContext(options: passes)
                let encoder = try FeatureEncoder(file: encoderFile, weights: nil, seed: seed, threads: threads, context: context)
                reporter.compiled("encoder", context)
                reporter.log("computing the features of \(list.images.count) images once with \(encoderFile), \(encoder.provenance); caching them in \(path)")
                try FeatureExtraction.extract(list, rows: list.rows, encoder: encoder, policy: onBadImage, to: path, reporter: reporter)
            }
            provenance = "\(path) (cached; encoder \(encoderFile): " + (FeatureExtraction.summary(of: path)?.weights ?? "seeded initialisation") + ")"
        }
        let reader = try HDF5FeatureReader(path: path)
        guard reader.regions == regions, reader.dim == dim else {
            throw RuntimeError("\(path): features are (\(reader.count), \(reader.regions), \(reader.dim)) but the decoder takes \(regions) regions x \(dim)")
        }
        let f = CaptioningFeatures(values: try reader.readAll(), rows: reader.count, regions: reader.regions, dim: reader.dim, provenance: provenance)
        for name in data.dataset.images.map(\.filename) where SydneyCaptions.imageNumber(name) != nil { _ = try f.row(of: name) }
        return f
    }

    /// The data folder may be read-only and is shared: the cache must live elsewhere.
    public static func checkOutside(cache: String, data: String) throws {
        let c = URL(fileURLWithPath: cache).standardizedFileURL.resolvingSymlinksInPath().path
        let d = URL(fileURLWithPath: data).standardizedFileURL.resolvingSymlinksInPath().path
        if c == d || c.hasPrefix(d.hasSuffix("/") ? d : d + "/") {
            throw RuntimeError("--cache \(cache) is inside the data folder \(data); choose a cache folder outside it")
        }
    }
}
