import Foundation
import GraphIR

// Sizes read from a file (a header's element count, a vocabulary's size, a caption length)
// are checked before memory is spent on them: against the bytes present where the file holds
// the data, and otherwise against the machine's memory, so a corrupt number is a `FileError`
// naming it rather than a trap in an allocator or an hour of swapping.

/// `count * itemSize` bytes, or a `FileError` when the product overflows or exceeds the
/// machine's physical memory. `what` names the quantity, e.g. `captions (1000 x max_len 10^9)`.
func checkedAllocation(count: Int, itemSize: Int, what: String, file: String) throws -> Int {
    let (bytes, overflow) = count.multipliedReportingOverflow(by: itemSize)
    let memory = ProcessInfo.processInfo.physicalMemory
    guard count >= 0, !overflow, UInt64(bytes) <= memory else {
        let size = overflow ? "more than \(Int.max)" : "\(bytes)"
        throw FileError(file, "\(what) would need \(size) bytes, more than this machine's \(memory) bytes of memory")
    }
    return bytes
}
