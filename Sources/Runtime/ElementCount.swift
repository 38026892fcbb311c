/// The number of elements of a tensor of `shape`, or nil when a dimension is negative or the
/// product does not fit in an `Int`: the check every size read from a file, a flag or a
/// caller's feed goes through before memory is spent on it.
public func checkedElementCount(_ shape: [Int]) -> Int? {
    var count = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, overflow) = count.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        count = p
    }
    return count
}
