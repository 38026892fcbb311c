import CBLAS
import Foundation

/// What OpenBLAS is doing on this machine, and whether it is leaving speed on the table.
/// graphc never sets OPENBLAS_CORETYPE itself; it only tells the user.
public enum BLASInfo {
    /// The kernel family OpenBLAS picked at load time (e.g. "Haswell", "SkylakeX", "Prescott").
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// OpenBLAS's thread count now: an executor with a worker pool sets it to one (one
    /// OpenBLAS thread per chunk), so after the first executor it no longer tells the cores.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's thread count before graphc first set it: the cores it found, or
    /// OPENBLAS_NUM_THREADS. Training, `--bench`, `--run` and `--extract-features` default to it
    /// (shared among the ranks of a data-parallel job on one host: `World.threadsPerProcess`).
    public static let defaultThreads = Int(openblas_get_num_threads())

    public static func setThreads(_ n: Int) {
        _ = defaultThreads   // read before the first change
        openblas_set_num_threads(Int32(clamping: max(1, n)))
    }

    /// True when OpenBLAS runs its old SSE kernels on a CPU with AVX2 or AVX-512.
    public static var isGenericFallback: Bool { isGenericFallback(coreName: coreName, cpuFlags: cpuFlags) }

    /// A sentence for the user when `isGenericFallback`, naming the setting that fixes it.
    public static var advice: String? { advice(coreName: coreName, cpuFlags: cpuFlags) }

    /// Core names of OpenBLAS's pre-AVX kernel families.
    static let preAVXCores: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai",
                                           "coppermine", "northwood", "banias", "generic"]

    static func isGenericFallback(coreName: String, cpuFlags: Set<String>) -> Bool {
        preAVXCores.contains(coreName.lowercased()) && (cpuFlags.contains("avx2") || cpuFlags.contains("avx512f"))
    }

    static func advice(coreName: String, cpuFlags: Set<String>) -> String? {
        guard isGenericFallback(coreName: coreName, cpuFlags: cpuFlags) else { return nil }
        let avx512 = cpuFlags.contains("avx512f")
        let setting = avx512 ? "SkylakeX" : "Haswell"
        let isa = avx512 ? "it supports AVX-512" : "it supports AVX2"
        return "OpenBLAS is using its generic '\(coreName)' kernels on this CPU (\(isa)); "
            + "set OPENBLAS_CORETYPE=\(setting) (\(avx512 ? "AVX-512" : "AVX2")) for ~5x faster matrix products"
    }

    /// The CPU feature flags from /proc/cpuinfo (empty where that file does not exist).
    static var cpuFlags: Set<String> {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        return parseCPUFlags(text)
    }

    static func parseCPUFlags(_ cpuinfo: String) -> Set<String> {
        for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " ").map(String.init))
        }
        return []
    }
}
