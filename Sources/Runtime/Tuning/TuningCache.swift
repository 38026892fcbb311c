import Foundation
import GraphIR

/// The winners measured so far, per machine, in one JSON file (like FFTW's wisdom):
///
///     {"format": "graphc-tuning", "version": 4, "machines": [
///       {"cpu": "AMD EPYC 9R14", "cores": 2, "blas": "Cooperlake", "isa": "AVX-512",
///        "choices": {"gemm-split 64x800*800x500 @2": "rows", ...},
///        "among": {"gemm-split 64x800*800x500 @2": ["serial", "rows", "columns"], ...}}]}
///
/// `among` lists the candidates a choice was measured against: a graphc offering a candidate
/// that was not among them (a new kernel) measures again instead of trusting the old winner.
/// A choice without `among` (pinned by a caller through `remember`) answers as it is.
///
/// Older files are read too, their measured choices as measured against no candidates, so
/// the tuner measures each of those points again once, then remembers the winner with its
/// candidates: a version 1 choice was measured against candidates nobody knows (`among` was
/// not recorded), and a version 2 one perhaps on a busy machine (before `Tuner.standard`
/// checked, see `Tuner`). A pinned version 2 choice (without `among`) answers as it is. A
/// version 3 file's choices of convolution algorithms (`conv2d-algorithm`, `conv2d-graph`,
/// `conv2d-in-graph`, the points in `timedDifferentlyAfterVersion3`) are left out: they were
/// timed with the weights fed at every run (a 512-channel layer's Winograd looked four times
/// slower than it runs), so they are measured again. Files are written as version 4.
///
/// Where: `$GRAPHC_TUNING_CACHE` when set, else `$XDG_CACHE_HOME/graphc/tuning.json`, else
/// `~/.cache/graphc/tuning.json` (`defaultURL`). The file is rewritten whole through
/// `AtomicFile` (a reader never sees half a file), after merging in what other processes
/// wrote since it was read. A file that cannot be parsed is not an error: `load` reports it
/// in `warning` and starts empty, and the next save replaces it.
public final class TuningCache: @unchecked Sendable {
    public let url: URL
    /// Why the file's content was ignored (nil when it was read or did not exist).
    public private(set) var warning: String?
    private var tables: [MachineIdentity: [TuningKey: Entry]] = [:]

    /// A remembered winner, and the candidates it was measured against: nil for a choice
    /// pinned without them (it answers as it is), empty for one measured against candidates
    /// nobody knows (a version 1 file's; measured again).
    public struct Entry: Equatable, Sendable {
        public var variant: String
        public var among: [String]?
        public init(variant: String, among: [String]? = nil) { self.variant = variant; self.among = among }
    }
    private let lock = NSLock()

    public init(url: URL) {
        self.url = url
        lock.withLock { load() }
    }

    /// `$GRAPHC_TUNING_CACHE`, `$XDG_CACHE_HOME/graphc/tuning.json` or `~/.cache/graphc/tuning.json`.
    public static var defaultURL: URL {
        let env = ProcessInfo.processInfo.environment
        if let path = env["GRAPHC_TUNING_CACHE"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let base = env["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache")
        return base.appendingPathComponent("graphc").appendingPathComponent("tuning.json")
    }

    /// The remembered winner of `key` on `machine`.
    public func choice(_ key: TuningKey, on machine: MachineIdentity) -> String? {
        entry(key, on: machine)?.variant
    }

    /// The remembered winner of `key` on `machine`, with the candidates it beat.
    public func entry(_ key: TuningKey, on machine: MachineIdentity) -> Entry? {
        lock.withLock { tables[machine]?[key] }
    }

    /// Everything remembered for `machine`, by key.
    public func choices(on machine: MachineIdentity) -> [TuningKey: String] {
        lock.withLock { (tables[machine] ?? [:]).mapValues(\.variant) }
    }

    /// Remembers `variant` for `key` (measured against `among`, when known) and writes the
    /// file. A failed write (read-only home) is returned as a message, not thrown: the choice
    /// still holds for this process.
    @discardableResult
    public func remember(_ variant: String, for key: TuningKey, on machine: MachineIdentity, among: [String]? = nil) -> String? {
        lock.withLock {
            let mine = tables
            load()
            for (m, table) in mine { tables[m, default: [:]].merge(table) { _, own in own } }
            tables[machine, default: [:]][key] = Entry(variant: variant, among: among)
            do {
                try AtomicFile.write(Self.encode(tables), to: url)
                return nil
            } catch {
                return "could not write the tuning cache \(url.path): \(error.localizedDescription)"
            }
        }
    }

    /// Reads the file into `tables` (replacing them); called with `lock` held.
    private func load() {
        tables = [:]
        guard let data = FileManager.default.contents(atPath: url.path) else { return }
        do {
            tables = try Self.decode(data)
            warning = nil
        } catch {
            warning = "ignoring the tuning cache \(url.path) (\(error)); it will be rebuilt"
        }
    }

    struct Machine: Codable {
        var cpu: String
        var cores: Int
        var blas: String
        /// Absent in files written before the cache recorded the kernels' instruction set.
        var isa: String?
        var choices: [String: String]
        /// Absent in files written before the cache recorded the candidates measured.
        var among: [String: [String]]?
    }
    struct File: Codable {
        var format: String
        var version: Int
        var machines: [Machine]
    }
    struct FormatError: Error, CustomStringConvertible { let description: String }
    /// The version this graphc writes (see the type's comment for what older versions lacked).
    static let version = 4

    /// Points whose measurement changed after version 3 (see the type's comment).
    static let timedDifferentlyAfterVersion3: Set<String> = ["conv2d-algorithm", "conv2d-graph", "conv2d-in-graph"]

    static func decode(_ data: Data) throws -> [MachineIdentity: [TuningKey: Entry]] {
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw FormatError(description: "not a graphc tuning file")
        }
        guard file.format == "graphc-tuning", (1...version).contains(file.version) else {
            throw FormatError(description: "format '\(file.format)' version \(file.version), expected graphc-tuning 1 to \(version)")
        }
        var tables: [MachineIdentity: [TuningKey: Entry]] = [:]
        for m in file.machines {
            var table: [TuningKey: Entry] = [:]
            for (text, variant) in m.choices {
                guard let key = TuningKey(cacheText: text), !variant.isEmpty else {
                    throw FormatError(description: "bad entry '\(text)'")
                }
                let among = m.among?[text]
                if file.version <= 3 && timedDifferentlyAfterVersion3.contains(key.point) { continue }
                switch file.version {
                case 1: table[key] = Entry(variant: variant, among: [])
                case 2: table[key] = Entry(variant: variant, among: among.map { _ in [] })
                default: table[key] = Entry(variant: variant, among: among)
                }
            }
            tables[MachineIdentity(cpuModel: m.cpu, cores: m.cores, blasCore: m.blas, kernelISA: m.isa ?? ""), default: [:]].merge(table) { a, _ in a }
        }
        return tables
    }

    static func encode(_ tables: [MachineIdentity: [TuningKey: Entry]]) throws -> Data {
        let machines = tables.sorted { $0.key.description < $1.key.description }.map { m, table in
            let among = Dictionary(uniqueKeysWithValues: table.compactMap { k, e in e.among.map { (k.description, $0) } })
            return Machine(cpu: m.cpuModel, cores: m.cores, blas: m.blasCore, isa: m.kernelISA,
                           choices: Dictionary(uniqueKeysWithValues: table.map { ($0.key.description, $0.value.variant) }),
                           among: among.isEmpty ? nil : among)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(File(format: "graphc-tuning", version: version, machines: machines))
    }
}
