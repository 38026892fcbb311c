import Foundation
import GraphIR

/// The winners measured so far, per machine, in one JSON file (like FFTW's wisdom):
///
///     {"format": "graphc-tuning", "version": 1, "machines": [
///       {"cpu": "AMD EPYC 9R14", "cores": 2, "blas": "Cooperlake",
///        "choices": {"gemm-split 64x800*800x500 @2": "rows", ...}}]}
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
    private var tables: [MachineIdentity: [TuningKey: String]] = [:]
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
        lock.withLock { tables[machine]?[key] }
    }

    /// Everything remembered for `machine`, by key.
    public func choices(on machine: MachineIdentity) -> [TuningKey: String] {
        lock.withLock { tables[machine] ?? [:] }
    }

    /// Remembers `variant` for `key` and writes the file. A failed write (read-only home) is
    /// returned as a message, not thrown: the choice still holds for this process.
    @discardableResult
    public func remember(_ variant: String, for key: TuningKey, on machine: MachineIdentity) -> String? {
        lock.withLock {
            let mine = tables
            load()
            for (m, table) in mine { tables[m, default: [:]].merge(table) { _, own in own } }
            tables[machine, default: [:]][key] = variant
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
    }
    struct File: Codable {
        var format: String
        var version: Int
        var machines: [Machine]
    }
    struct FormatError: Error, CustomStringConvertible { let description: String }

    static func decode(_ data: Data) throws -> [MachineIdentity: [TuningKey: String]] {
        let file: File
        do { file = try JSONDecoder().decode(File.self, from: data) } catch {
            throw FormatError(description: "not a graphc tuning file")
        }
        guard file.format == "graphc-tuning", file.version == 1 else {
            throw FormatError(description: "format '\(file.format)' version \(file.version), expected graphc-tuning 1")
        }
        var tables: [MachineIdentity: [TuningKey: String]] = [:]
        for m in file.machines {
            var table: [TuningKey: String] = [:]
            for (text, variant) in m.choices {
                guard let key = TuningKey(cacheText: text), !variant.isEmpty else {
                    throw FormatError(description: "bad entry '\(text)'")
                }
                table[key] = variant
            }
            tables[MachineIdentity(cpuModel: m.cpu, cores: m.cores, blasCore: m.blas, kernelISA: m.isa ?? ""), default: [:]].merge(table) { a, _ in a }
        }
        return tables
    }

    static func encode(_ tables: [MachineIdentity: [TuningKey: String]]) throws -> Data {
        let machines = tables.sorted { $0.key.description < $1.key.description }.map { m, table in
            Machine(cpu: m.cpuModel, cores: m.cores, blas: m.blasCore, isa: m.kernelISA,
                    choices: Dictionary(uniqueKeysWithValues: table.map { ($0.key.description, $0.value) }))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(File(format: "graphc-tuning", version: 1, machines: machines))
    }
}
