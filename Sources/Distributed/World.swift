import CMPI
import Foundation
import Runtime

/// The processes of a data-parallel job: this one's rank and how many there are.
///
/// graphc joins an MPI job only when mpirun started it (Open MPI sets
/// `OMPI_COMM_WORLD_SIZE`, PMIx `PMIX_RANK`) with more than one process; otherwise `World.shared`
/// is a world of one that calls no MPI function, so a plain `graphc` run behaves exactly as it
/// did before (the library is linked but never initialised).
///
/// Collectives here are blocking and called by the main thread between steps; the gradient
/// all-reduce runs on the communication thread of `MPIGradientCommunicator` during a step. MPI
/// is initialised asking for `MPI_THREAD_MULTIPLE`; with less than `MPI_THREAD_SERIALIZED`
/// the gradient exchange runs on the calling thread instead.
public final class World: @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Whether MPI was initialised (false: a world of one without MPI).
    public let usesMPI: Bool
    /// Whether MPI lets a second thread make calls while the main thread waits.
    public let threadsMayCall: Bool
    private var finalized = false

    /// The job this process belongs to, joined at first use.
    public static let shared = World()

    /// Whether mpirun (or another PMIx launcher) started this process as one of several.
    public static var launchedWithSeveralRanks: Bool {
        let env = ProcessInfo.processInfo.environment
        if let n = env["OMPI_COMM_WORLD_SIZE"].flatMap(Int.init) { return n > 1 }
        if let n = env["PMIX_SIZE"].flatMap(Int.init) { return n > 1 }
        return false
    }

    /// Kernel threads for each process of a job by default: OpenBLAS's own count (the cores,
    /// `BLASInfo.defaultThreads`) shared among the job's processes on this host (Open MPI's
    /// `OMPI_COMM_WORLD_LOCAL_SIZE`, PMIx's `PMIX_LOCAL_SIZE`), at least one. Outside such a
    /// job, every core. (Each of two ranks on two cores taking both ran four threads on two.)
    public static func threadsPerProcess(cores: Int = BLASInfo.defaultThreads,
                                         environment env: [String: String] = ProcessInfo.processInfo.environment) -> Int {
        let several = [env["OMPI_COMM_WORLD_SIZE"], env["PMIX_SIZE"]].contains { ($0.flatMap(Int.init) ?? 0) > 1 }
        let local = several ? [env["OMPI_COMM_WORLD_LOCAL_SIZE"], env["PMIX_LOCAL_SIZE"]].lazy.compactMap { $0.flatMap(Int.init) }.first { $0 > 0 } ?? 1 : 1
        return max(1, cores / local)
    }

    private init() {
        guard World.launchedWithSeveralRanks else {
            rank = 0; size = 1; usesMPI = false; threadsMayCall = false
            return
        }
        var provided: Int32 = 0
        MPI_Init_thread(nil, nil, Int32(MPI_THREAD_MULTIPLE), &provided)
        var r: Int32 = 0, s: Int32 = 1
        MPI_Comm_rank(cmpi_comm_world(), &r)
        MPI_Comm_size(cmpi_comm_world(), &s)
        rank = Int(r); size = Int(s); usesMPI = true
        threadsMayCall = provided >= Int32(MPI_THREAD_SERIALIZED)
    }

    public var isDistributed: Bool { size > 1 }

    /// "rank 1 of 2", for messages.
    public var label: String { "rank \(rank) of \(size)" }

    /// Element-wise sums over every process (every process must call it, in the same order).
    public func sum(_ values: [Double]) -> [Double] {
        guard usesMPI, !values.isEmpty else { return values }
        var out = values
        out.withUnsafeMutableBufferPointer { b in
            _ = MPI_Allreduce(cmpi_in_place(), b.baseAddress, Int32(b.count), cmpi_double(), cmpi_sum(), cmpi_comm_world())
        }
        return out
    }

    /// Element-wise sums of float arrays of one length on every process, in place.
    public func sum(_ values: inout [Float]) {
        guard usesMPI, !values.isEmpty else { return }
        values.withUnsafeMutableBufferPointer { b in
            _ = MPI_Allreduce(cmpi_in_place(), b.baseAddress, Int32(b.count), cmpi_float(), cmpi_sum(), cmpi_comm_world())
        }
    }

    /// Every process's value, by rank.
    public func allGather(_ value: UInt64) -> [UInt64] {
        guard usesMPI else { return [value] }
        var mine = value
        var all = [UInt64](repeating: 0, count: size)
        all.withUnsafeMutableBufferPointer { b in
            _ = MPI_Allgather(&mine, 1, cmpi_uint64(), b.baseAddress, 1, cmpi_uint64(), cmpi_comm_world())
        }
        return all
    }

    /// Every process's text, by rank, each cut to `maxBytes` bytes of UTF-8.
    public func allGather(_ text: String, maxBytes: Int = 512) -> [String] {
        guard usesMPI else { return [text] }
        var mine = [CChar](repeating: 0, count: maxBytes + 1)
        for (i, b) in text.utf8.prefix(maxBytes).enumerated() { mine[i] = CChar(bitPattern: b) }
        var all = [CChar](repeating: 0, count: (maxBytes + 1) * size)
        all.withUnsafeMutableBufferPointer { b in
            _ = MPI_Allgather(&mine, Int32(maxBytes + 1), cmpi_char(), b.baseAddress, Int32(maxBytes + 1), cmpi_char(), cmpi_comm_world())
        }
        return (0..<size).map { r in
            let slice = all[(r * (maxBytes + 1))..<((r + 1) * (maxBytes + 1))]
            return String(decoding: slice.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Every process's text, by rank, of any length.
    public func allGatherText(_ text: String) -> [String] {
        guard usesMPI else { return [text] }
        var mine = Array(text.utf8).map { CChar(bitPattern: $0) }
        let lengths = allGather(UInt64(mine.count)).map { Int32(clamping: $0) }
        var displacements = [Int32](repeating: 0, count: size)
        for r in 1..<max(size, 1) { displacements[r] = displacements[r - 1] + lengths[r - 1] }
        var all = [CChar](repeating: 0, count: max(1, Int(lengths.reduce(0, +))))
        if mine.isEmpty { mine = [0] }
        lengths.withUnsafeBufferPointer { l in
            displacements.withUnsafeBufferPointer { d in
                all.withUnsafeMutableBufferPointer { b in
                    _ = MPI_Allgatherv(mine, Int32(text.utf8.count), cmpi_char(), b.baseAddress, l.baseAddress, d.baseAddress, cmpi_char(), cmpi_comm_world())
                }
            }
        }
        return (0..<size).map { r in
            let start = Int(displacements[r]), end = start + Int(lengths[r])
            return String(decoding: all[start..<end].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    public func barrier() {
        if usesMPI { MPI_Barrier(cmpi_comm_world()) }
    }

    /// Leaves the job normally (every process calls it once, at the end).
    public func finalize() {
        guard usesMPI, !finalized else { return }
        finalized = true
        MPI_Finalize()
    }

    /// Stops every process of the job now (after this process reported an error): the others
    /// may be waiting for it in a collective and would otherwise never return.
    public func abort(code: Int32 = 1) -> Never {
        if usesMPI && !finalized { MPI_Abort(cmpi_comm_world(), code) }
        exit(code)
    }
}
