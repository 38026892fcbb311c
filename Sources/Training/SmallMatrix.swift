import Foundation

/// A small dense matrix in Double, row-major, for the checks Q1 asks for (products, an
/// inverse, singular values) on matrices of a few dozen entries. Double keeps the rounding of
/// these checks far below the float32 differences they measure.
public struct SmallMatrix: Equatable, CustomStringConvertible {
    public let rows: Int
    public let columns: Int
    public var values: [Double]

    public init(rows: Int, columns: Int, values: [Double]) {
        precondition(values.count == rows * columns, "SmallMatrix: \(values.count) values for \(rows)x\(columns)")
        self.rows = rows
        self.columns = columns
        self.values = values
    }

    public init(rows: Int, columns: Int, floats: [Float]) {
        self.init(rows: rows, columns: columns, values: floats.map(Double.init))
    }

    public static func identity(_ n: Int) -> SmallMatrix {
        SmallMatrix(rows: n, columns: n, values: (0..<n * n).map { $0 / n == $0 % n ? 1 : 0 })
    }

    public subscript(r: Int, c: Int) -> Double {
        get { values[r * columns + c] }
        set { values[r * columns + c] = newValue }
    }

    public var floats: [Float] { values.map(Float.init) }

    public var transposed: SmallMatrix {
        SmallMatrix(rows: columns, columns: rows, values: (0..<rows * columns).map { values[($0 % rows) * columns + $0 / rows] })
    }

    public static func * (a: SmallMatrix, b: SmallMatrix) -> SmallMatrix {
        precondition(a.columns == b.rows, "SmallMatrix: \(a.rows)x\(a.columns) times \(b.rows)x\(b.columns)")
        var out = SmallMatrix(rows: a.rows, columns: b.columns, values: [Double](repeating: 0, count: a.rows * b.columns))
        for i in 0..<a.rows { for k in 0..<a.columns { let x = a[i, k]; for j in 0..<b.columns { out[i, j] += x * b[k, j] } } }
        return out
    }

    /// The inverse by Gauss-Jordan elimination with partial pivoting, or nil when a pivot
    /// vanishes (the matrix is singular to working precision).
    public var inverse: SmallMatrix? {
        guard rows == columns else { return nil }
        let n = rows
        var a = self, inv = SmallMatrix.identity(n)
        let scale = values.map(abs).max() ?? 0
        for col in 0..<n {
            guard let pivot = (col..<n).max(by: { abs(a[$0, col]) < abs(a[$1, col]) }),
                  abs(a[pivot, col]) > 1e-12 * scale else { return nil }
            for j in 0..<n { a.values.swapAt(col * n + j, pivot * n + j); inv.values.swapAt(col * n + j, pivot * n + j) }
            let p = a[col, col]
            for j in 0..<n { a[col, j] /= p; inv[col, j] /= p }
            for r in 0..<n where r != col {
                let f = a[r, col]
                guard f != 0 else { continue }
                for j in 0..<n { a[r, j] -= f * a[col, j]; inv[r, j] -= f * inv[col, j] }
            }
        }
        return inv
    }

    /// The singular values, largest first, by one-sided Jacobi (Hestenes) rotations: columns
    /// are rotated in pairs until all are orthogonal, and their norms are then the singular
    /// values. Accurate to a few ulps of the largest, including the tiny ones of a
    /// rank-deficient matrix, which is what a rank check needs.
    public var singularValues: [Double] {
        // Work on the orientation with at least as many rows as columns.
        var a = rows >= columns ? self : transposed
        let m = a.rows, n = a.columns
        for _ in 0..<60 {
            var rotated = false
            for p in 0..<n {
                for q in (p + 1)..<max(n, p + 1) {
                    var alpha = 0.0, beta = 0.0, gamma = 0.0
                    for i in 0..<m { alpha += a[i, p] * a[i, p]; beta += a[i, q] * a[i, q]; gamma += a[i, p] * a[i, q] }
                    guard gamma != 0, abs(gamma) > 1e-15 * (alpha * beta).squareRoot() else { continue }
                    rotated = true
                    let zeta = (beta - alpha) / (2 * gamma)
                    let t = (zeta >= 0 ? 1.0 : -1.0) / (abs(zeta) + (1 + zeta * zeta).squareRoot())
                    let c = 1 / (1 + t * t).squareRoot(), s = c * t
                    for i in 0..<m {
                        let x = a[i, p], y = a[i, q]
                        a[i, p] = c * x - s * y
                        a[i, q] = s * x + c * y
                    }
                }
            }
            if !rotated { break }
        }
        return (0..<n).map { j in (0..<m).reduce(0.0) { $0 + a[$1, j] * a[$1, j] }.squareRoot() }.sorted(by: >)
    }

    /// How many singular values exceed `relativeTolerance` times the largest.
    public func rank(relativeTolerance: Double) -> Int {
        let s = singularValues
        guard let top = s.first, top > 0 else { return 0 }
        return s.filter { $0 > relativeTolerance * top }.count
    }

    public var description: String {
        (0..<rows).map { r in (0..<columns).map { String(format: "%9.4f", self[r, $0]) }.joined(separator: " ") }.joined(separator: "\n")
    }
}
