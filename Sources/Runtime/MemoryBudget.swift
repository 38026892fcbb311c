import Foundation

/// The most memory a run may plan for one allocation sized by its input (an executor's arena
/// for a batch, a benchmark's random batch), checked before the memory is spent so a batch too
/// large for the machine is refused with the numbers instead of ending in an out-of-memory kill.
/// The command line's `--max-memory` sets it; by default it is the machine's physical memory.
public enum MemoryBudget {
    nonisolated(unsafe) public static var bytes: Int = Int(clamping: ProcessInfo.processInfo.physicalMemory)
    /// Where `bytes` came from, for the message.
    nonisolated(unsafe) public static var source = "the machine's physical memory; set another budget with --max-memory"

    /// Throws when `needed` bytes (nil: more than an Int holds) exceed the budget; `what` says
    /// what needs them ("the plan for B=50000").
    public static func check(_ needed: Int?, for what: String) throws {
        guard let needed, needed <= bytes else {
            let amount = needed.map(describe) ?? "more bytes than can be counted"
            throw RuntimeError("\(what) needs \(amount) of memory, more than the budget of \(describe(bytes)) (\(source))")
        }
    }

    /// The bytes of `counts` elements of `byteSize` bytes each, nil on overflow.
    public static func bytes(elements counts: [Int], byteSize: Int) -> Int? {
        var total = byteSize
        for c in counts {
            let (p, overflow) = total.multipliedReportingOverflow(by: max(c, 0))
            if overflow { return nil }
            total = p
        }
        return total
    }

    /// "12.3 GB (12345678901 bytes)".
    public static func describe(_ n: Int) -> String {
        if n < 1_000_000 { return "\(n) bytes" }
        return (n < 1_000_000_000 ? String(format: "%.1f MB", Double(n) / 1e6) : String(format: "%.1f GB", Double(n) / 1e9)) + " (\(n) bytes)"
    }

    /// Parses `--max-memory` values: bytes, or a number with K, M, G or T (powers of 1024).
    public static func parse(_ text: String) -> Int? {
        let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = text.uppercased()
        if digits.hasSuffix("B") { digits.removeLast() }
        var scale = 1
        if let u = digits.last, let s = units[u] { scale = s; digits.removeLast() }
        guard let v = Double(digits), v.isFinite, v > 0, v * Double(scale) < 9e18 else { return nil }
        return Int(v * Double(scale))
    }
}
