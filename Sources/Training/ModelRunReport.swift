import Datasets
import Foundation
import Reports
import Runtime

extension ModelRun {
    /// A table of the outputs: name, shape, dtype, min, max, mean and the first `firstValues`
    /// values (row-major). NaN anywhere makes min, max and mean NaN, so it cannot go unseen.
    public static func table(_ outputs: [Output], firstValues: Int = 5) -> String {
        var table = MarkdownTable(headers: ["output", "shape", "dtype", "min", "max", "mean", "first values"],
                                  alignments: [.left, .left, .left, .right, .right, .right, .left])
        for o in outputs {
            let t = o.value
            var row = [o.name, NPYWriter.pythonTuple(t.shape), t.dtype == .f32 ? "float32" : "int64"]
            let stats: (min: Double, max: Double, mean: Double)?
            let first: [String]
            switch t.storage {
            case .f32(let v):
                stats = statistics(v.lazy.map(Double.init))
                first = v.prefix(firstValues).map { format(Double($0)) }
                if let s = stats { row += [format(s.min), format(s.max), format(s.mean)] }
            case .i64(let v):
                stats = statistics(v.lazy.map(Double.init))
                first = v.prefix(firstValues).map(String.init)
                if let s = stats, let lo = v.min(), let hi = v.max() { row += [String(lo), String(hi), format(s.mean)] }
            }
            if stats == nil { row += ["-", "-", "-"] }
            row.append(first.joined(separator: ", ") + (t.storedCount > firstValues ? ", ..." : ""))
            table.append(row)
        }
        return table.render()
    }

    /// Min, max and mean in Double; nil for an empty tensor.
    static func statistics<S: Sequence>(_ values: S) -> (min: Double, max: Double, mean: Double)? where S.Element == Double {
        var lo = Double.infinity, hi = -Double.infinity, sum = 0.0, n = 0, nan = false
        for x in values {
            if x.isNaN { nan = true }
            lo = Swift.min(lo, x); hi = Swift.max(hi, x); sum += x; n += 1
        }
        guard n > 0 else { return nil }
        return nan ? (.nan, .nan, .nan) : (lo, hi, sum / Double(n))
    }

    static func format(_ x: Double) -> String {
        x.isNaN ? "nan" : x.isInfinite ? (x < 0 ? "-inf" : "inf") : String(format: "%.6g", x)
    }

    /// Writes every output to an .npz archive (float32 and int64 arrays under their names)
    /// that `numpy.load` reads; the file appears whole or not at all.
    public static func writeNPZ(_ outputs: [Output], to path: String) throws {
        let arrays = outputs.map { o -> (name: String, array: NPYArray) in
            let raw: Data
            switch o.value.storage {
            case .f32(let v): raw = v.withUnsafeBytes { Data($0) }
            case .i64(let v): raw = v.withUnsafeBytes { Data($0) }
            }
            return (o.name, NPYArray(dtype: o.value.dtype == .f32 ? .f32 : .i64, shape: o.value.shape, raw: raw, source: o.name))
        }
        try NPZWriter.write(arrays, to: path)
    }
}
