import Foundation
import GraphIR

/// Writes `.npy` files byte for byte as `numpy.save` does: version 1.0 (2.0 only when the
/// header outgrows 64 KiB), the header dict with keys in sorted order, numpy's spare spaces for
/// growing the first axis, and padding so the data starts at a multiple of 64 bytes.
public enum NPYWriter {
    /// numpy leaves room for the first dimension to grow to this many digits in place.
    static let growthAxisDigits = 21
    static let alignment = 64

    public static func encode(_ array: NPYArray) throws -> Data {
        var count = 1
        for d in array.shape {
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard d >= 0, !o else { throw FileError(array.source, "cannot write shape \(array.shape) as NPY") }
            count = p
        }
        let (needed, o) = count.multipliedReportingOverflow(by: array.dtype.itemSize)
        guard !o, needed == array.raw.count else {
            throw FileError(array.source, "shape \(array.shape) of '\(array.dtype.rawValue)' needs \(o ? "too many" : String(needed)) bytes, the array holds \(array.raw.count)")
        }
        return header(dtype: array.dtype, shape: array.shape) + array.raw
    }

    /// Magic, version, header length and the padded header dict, ending in a newline.
    static func header(dtype: NPYDType, shape: [Int]) -> Data {
        var dict = "{'descr': '\(dtype.rawValue)', 'fortran_order': False, 'shape': \(pythonTuple(shape)), }"
        if let first = shape.first { dict += String(repeating: " ", count: max(0, growthAxisDigits - String(first).count)) }
        let text = Array(dict.utf8)
        // numpy pads with spaces and a final newline so that preamble + header is a multiple of
        // 64; when it already is, it still adds a whole 64 (its formula never pads by 0).
        func padding(preamble: Int) -> Int { alignment - (preamble + text.count + 1) % alignment }
        var out = Data([0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59])
        let v1Length = text.count + padding(preamble: 10) + 1
        if v1Length <= Int(UInt16.max) {
            out += [1, 0, UInt8(v1Length & 0xff), UInt8(v1Length >> 8)]
            out += text + [UInt8](repeating: 0x20, count: padding(preamble: 10)) + [0x0A]
        } else {
            let length = UInt32(text.count + padding(preamble: 12) + 1)
            out += [2, 0] + (0..<4).map { UInt8(truncatingIfNeeded: length >> (8 * UInt32($0))) }
            out += text + [UInt8](repeating: 0x20, count: padding(preamble: 12)) + [0x0A]
        }
        return out
    }

    /// Python's repr of a tuple of ints, `()`, `(3,)`, `(2, 3)`: how numpy prints a shape.
    public static func pythonTuple(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
}
