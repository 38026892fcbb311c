/// Which examples of a global batch (or of a split) each process takes: consecutive runs of
/// near-equal length in rank order, so the union over ranks is the whole and results do not
/// depend on how many processes share the work.
public enum Placement {
    /// The positions `0..<count` that rank `rank` of `size` takes.
    public static func share(of count: Int, rank: Int, size: Int) -> Range<Int> {
        guard size > 1 else { return 0..<count }
        return (count * rank / size)..<(count * (rank + 1) / size)
    }

    /// Refuses a global batch the ranks cannot split evenly, with the numbers.
    public static func checkBatch(_ batch: Int, size: Int) throws {
        guard size > 1, batch % size != 0 else { return }
        let lower = batch / size * size, upper = lower + size
        throw DistributedError("the global batch \(batch) cannot be split evenly over \(size) ranks (\(batch) = \(batch / size) x \(size) + \(batch % size)); give --batch-size \(lower > 0 ? "\(lower) or \(upper)" : "\(upper)") or run a number of ranks that divides \(batch)")
    }
}

/// An error of the data-parallel machinery, with a message for the user.
public struct DistributedError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
