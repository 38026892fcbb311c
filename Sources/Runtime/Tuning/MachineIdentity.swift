import CBLAS
import Foundation

/// What a tuning choice depends on besides the shapes: the CPU (its model name, from
/// /proc/cpuinfo), how many cores the process may use, the kernels OpenBLAS picked
/// (`openblas_get_corename`; OPENBLAS_CORETYPE changes it) and the instruction set graphc's
/// own vector kernels use (`VectorISA`; `--isa` limits it). A choice measured on one machine
/// is never applied on another: the tuning cache keeps one table per identity.
public struct MachineIdentity: Hashable, Sendable, CustomStringConvertible {
    public let cpuModel: String
    public let cores: Int
    public let blasCore: String
    /// `VectorISA`'s description ("AVX-512", "AVX2+FMA", "SSE2"); empty in a table written
    /// before the cache recorded it, which then matches no machine (its choices are measured
    /// again rather than applied to kernels they were not measured with).
    public let kernelISA: String

    public init(cpuModel: String, cores: Int, blasCore: String, kernelISA: String) {
        self.cpuModel = cpuModel; self.cores = cores; self.blasCore = blasCore; self.kernelISA = kernelISA
    }

    /// This machine as the process sees it now (after any `VectorISA.limit(to:)`).
    public static var current: MachineIdentity {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        return MachineIdentity(cpuModel: parseModelName(cpuinfo) ?? "unknown CPU",
                               cores: ProcessInfo.processInfo.activeProcessorCount, blasCore: BLASInfo.coreName,
                               kernelISA: VectorISA.current.description)
    }

    /// The cache's table name: `model | N cores | OpenBLAS core | kernels ISA`.
    public var description: String { "\(cpuModel) | \(cores) cores | OpenBLAS \(blasCore) | kernels \(kernelISA)" }

    /// The first "model name" line of /proc/cpuinfo (x86); "cpu model" or "Processor" elsewhere.
    static func parseModelName(_ cpuinfo: String) -> String? {
        for field in ["model name", "cpu model", "Processor"] {
            for line in cpuinfo.split(separator: "\n") where line.hasPrefix(field) {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                if !name.isEmpty { return name.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
            }
        }
        return nil
    }
}
