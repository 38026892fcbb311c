// Helpers that shape rules share: argument checks and broadcasting.

extension ShapeQuery {
    public func input(_ i: Int) -> TensorType { inputs[i] }

    public func requireFloat(_ i: Int, _ what: String = "input") throws {
        guard inputs[i].dtype == .f32 else { throw ShapeError("\(what) must be f32, got \(inputs[i])") }
    }

    public func requireRank(_ i: Int, _ ranks: ClosedRange<Int>, _ what: String = "input") throws {
        guard ranks.contains(inputs[i].rank) else {
            let want = ranks.lowerBound == ranks.upperBound ? "\(ranks.lowerBound)" : "\(ranks.lowerBound) to \(ranks.upperBound)"
            throw ShapeError("\(what) must have rank \(want), got \(inputs[i])")
        }
    }
}

/// Numpy broadcasting over possibly symbolic dimensions: align from the right; equal dims
/// stay, a 1 stretches to the other.
public func broadcastShapes(_ a: Shape, _ b: Shape) throws -> Shape {
    let n = max(a.rank, b.rank)
    var out: [Dim] = []
    out.reserveCapacity(n)
    for i in 0..<n {
        let da: Dim = i < n - a.rank ? .known(1) : a.dims[i - (n - a.rank)]
        let db: Dim = i < n - b.rank ? .known(1) : b.dims[i - (n - b.rank)]
        if da == db { out.append(da) }
        else if da == .known(1) { out.append(db) }
        else if db == .known(1) { out.append(da) }
        else { throw ShapeError("shapes \(a) and \(b) do not broadcast (dimension \(da) vs \(db))") }
    }
    return Shape(out)
}

/// The symbols of a shape with their multiplicity, and the product of its known dimensions
/// (nil when it does not fit an Int: shapes of imported files may say anything).
func factor(_ s: Shape) -> (symbols: [String: Int], known: Int?) {
    var syms: [String: Int] = [:]
    var known: Int? = 1
    for d in s.dims {
        switch d {
        case .known(let n):
            guard let k = known else { continue }
            let (p, overflow) = k.multipliedReportingOverflow(by: n)
            known = overflow ? nil : p
        case .symbol(let name): syms[name, default: 0] += 1
        }
    }
    return (syms, known)
}

/// Whether two shapes certainly hold the same number of elements.
public func sameElementCount(_ a: Shape, _ b: Shape) -> Bool {
    let fa = factor(a), fb = factor(b)
    return fa.symbols == fb.symbols && fa.known != nil && fa.known == fb.known
}
