import GraphIR
import Foundation

/// Element types the NPY reader understands (little-endian, as numpy writes them on x86/ARM).
public enum NPYDType: String, CaseIterable {
    case f64 = "<f8", f32 = "<f4", i64 = "<i8", i32 = "<i4", u8 = "|u1"

    public var itemSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .u8: return 1
        }
    }

    init?(descr: String) {
        if descr == "<u1" { self = .u8; return }
        self.init(rawValue: descr)
    }
}

/// One array from a `.npy` file (or an `.npz` entry): dtype, shape (C order) and raw
/// little-endian element bytes.
public struct NPYArray {
    public var dtype: NPYDType
    public var shape: [Int]
    public var raw: Data
    /// Names the source in errors raised by the converters.
    public var source: String

    public var count: Int { shape.reduce(1, *) }

    public init(dtype: NPYDType, shape: [Int], raw: Data, source: String) {
        self.dtype = dtype
        self.shape = shape
        self.raw = raw
        self.source = source
    }

    /// Elements as Float, whatever the dtype (f64 is rounded to nearest).
    public func floats() -> [Float] {
        switch dtype {
        case .f32: return load(Float.self)
        case .f64: return load(Double.self).map { Float($0) }
        case .i64: return load(Int64.self).map { Float($0) }
        case .i32: return load(Int32.self).map { Float($0) }
        case .u8: return [UInt8](raw).map { Float($0) }
        }
    }

    /// Elements as Int64; only integer dtypes convert (a float array here is a data error).
    public func int64s() throws -> [Int64] {
        switch dtype {
        case .i64: return load(Int64.self)
        case .i32: return load(Int32.self).map { Int64($0) }
        case .u8: return [UInt8](raw).map { Int64($0) }
        case .f32, .f64:
            throw FileError(source, "expected an integer array, found dtype '\(dtype.rawValue)'")
        }
    }

    private func load<T: FixedWidthInteger>(_: T.Type) -> [T] {
        var out = [T](repeating: 0, count: raw.count / MemoryLayout<T>.size)
        _ = out.withUnsafeMutableBytes { raw.copyBytes(to: $0) }
        return out.map { T(littleEndian: $0) }
    }

    private func load<T: BinaryFloatingPoint>(_: T.Type) -> [T] {
        // Hosts graphc supports are little-endian, like the data; bytes copy straight across.
        var out = [T](repeating: 0, count: raw.count / MemoryLayout<T>.size)
        _ = out.withUnsafeMutableBytes { raw.copyBytes(to: $0) }
        return out
    }
}

/// Reader for numpy's `.npy` format, versions 1.0, 2.0 and 3.0: magic "\x93NUMPY", version,
/// header length (u16 in v1, u32 later), a Python dict literal header, then the data.
public enum NPYReader {
    public static func read(path: String) throws -> NPYArray {
        try parse(try readFile(path), file: path)
    }

    public static func parse(_ data: Data, file: String) throws -> NPYArray {
        // Only the preamble and header are copied; the data stays in `data` (arrays can be large).
        let total = data.count
        let bytes = [UInt8](data.prefix(12))
        let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]
        guard total >= 10 else {
            throw FileError(file, "truncated: \(total) bytes, too short for an NPY header")
        }
        guard Array(bytes[0..<6]) == magic else {
            throw FileError(file, "not an NPY file: bad magic (expected \\x93NUMPY)")
        }
        let major = bytes[6]
        let preamble = ByteReader(bytes: bytes, file: file, context: "NPY preamble")
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(try preamble.u16(8))
            headerStart = 10
        case 2, 3:
            guard total >= 12 else { throw FileError(file, "truncated: NPY v\(major) header length missing") }
            headerLength = Int(try preamble.u32(8))
            headerStart = 12
        default:
            throw FileError(file, "unsupported NPY format version \(major).\(bytes[7])")
        }
        guard total - headerStart >= headerLength else {
            throw FileError(file, "truncated: NPY header says \(headerLength) bytes, file has \(total - headerStart) after the preamble")
        }
        let base = data.startIndex
        let headerBytes = [UInt8](data[(base + headerStart)..<(base + headerStart + headerLength)])
        // v3 headers are UTF-8, earlier ones latin-1; the keys and values we accept are ASCII.
        guard let headerText = String(bytes: headerBytes, encoding: major == 3 ? .utf8 : .isoLatin1) else {
            throw FileError(file, "NPY header is not valid text")
        }
        let header: [String: PyValue]
        do {
            var parser = PyLiteralParser(headerText)
            header = try parser.parseDict()
        } catch let e as PyLiteralParser.Failure {
            throw FileError(file, "bad NPY header (\(e.message)): \(headerText.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        guard case .string(let descr)? = header["descr"] else {
            if header["descr"] == .other { throw FileError(file, "unsupported structured dtype (a record array)") }
            throw FileError(file, "bad NPY header: 'descr' missing or not a string")
        }
        guard let dtype = NPYDType(descr: descr) else {
            let supported = NPYDType.allCases.map { "'\($0.rawValue)'" }.joined(separator: ", ")
            throw FileError(file, "unsupported dtype '\(descr)' (supported: \(supported))")
        }
        guard case .bool(let fortran)? = header["fortran_order"] else {
            throw FileError(file, "bad NPY header: 'fortran_order' missing or not a bool")
        }
        if fortran {
            throw FileError(file, "unsupported Fortran (column-major) order; save the array in C order")
        }
        guard case .tuple(let shape)? = header["shape"] else {
            throw FileError(file, "bad NPY header: 'shape' missing or not a tuple of integers")
        }
        var count = 1
        for d in shape {
            guard d >= 0 else { throw FileError(file, "bad NPY header: negative dimension in shape \(shape)") }
            let (p, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw FileError(file, "bad NPY header: shape \(shape) is too large") }
            count = p
        }
        let dataStart = headerStart + headerLength
        let found = total - dataStart
        let (needed, o) = count.multipliedReportingOverflow(by: dtype.itemSize)
        guard !o else { throw FileError(file, "bad NPY header: shape \(shape) is too large") }
        // Python's tuple spelling, so the message matches what numpy prints.
        let shapeText = NPYWriter.pythonTuple(shape)
        if found < needed {
            throw FileError(file, "truncated: shape \(shapeText) of '\(descr)' needs \(needed) data bytes, found \(found)")
        }
        if found > needed {
            throw FileError(file, "size mismatch: shape \(shapeText) of '\(descr)' needs \(needed) data bytes, found \(found)")
        }
        return NPYArray(dtype: dtype, shape: shape, raw: data.subdata(in: (base + dataStart)..<data.endIndex), source: file)
    }
}

/// The Python literals an NPY header uses.
enum PyValue: Equatable {
    case string(String)
    case bool(Bool)
    case int(Int)
    case tuple([Int])
    case other
}

/// Parses the dict literal of an NPY header, e.g.
/// `{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }`.
struct PyLiteralParser {
    struct Failure: Error { let message: String }

    private let chars: [Character]
    private var i = 0

    init(_ text: String) { chars = Array(text) }

    mutating func parseDict() throws -> [String: PyValue] {
        skipSpace()
        try expect("{")
        var out: [String: PyValue] = [:]
        while true {
            skipSpace()
            if peek() == "}" { i += 1; break }
            guard case .string(let key) = try parseValue() else { throw Failure(message: "dict key is not a string") }
            skipSpace()
            try expect(":")
            out[key] = try parseValue()
            skipSpace()
            if peek() == "," { i += 1; continue }
            skipSpace()
            try expect("}")
            break
        }
        return out
    }

    private mutating func parseValue() throws -> PyValue {
        skipSpace()
        guard let c = peek() else { throw Failure(message: "unexpected end of header") }
        switch c {
        case "'", "\"":
            i += 1
            var s = ""
            while let d = peek(), d != c { s.append(d); i += 1 }
            try expect(c)
            return .string(s)
        case "(":
            i += 1
            var items: [Int] = []
            while true {
                skipSpace()
                if peek() == ")" { i += 1; break }
                guard case .int(let n) = try parseValue() else { throw Failure(message: "tuple item is not an integer") }
                items.append(n)
                skipSpace()
                if peek() == "," { i += 1; continue }
                try expect(")")
                break
            }
            return .tuple(items)
        case "[":
            // Structured dtypes are lists; skip them so the caller reports an unsupported dtype.
            var depth = 0
            while let d = peek() {
                i += 1
                if d == "[" { depth += 1 } else if d == "]" { depth -= 1; if depth == 0 { break } }
            }
            if depth != 0 { throw Failure(message: "unterminated list") }
            return .other
        default:
            var word = ""
            while let d = peek(), d.isLetter || d.isNumber || d == "-" || d == "_" { word.append(d); i += 1 }
            if word == "True" { return .bool(true) }
            if word == "False" { return .bool(false) }
            if let n = Int(word.hasSuffix("L") ? String(word.dropLast()) : word) { return .int(n) }
            throw Failure(message: word.isEmpty ? "unexpected '\(c)'" : "unexpected '\(word)'")
        }
    }

    private func peek() -> Character? { i < chars.count ? chars[i] : nil }

    private mutating func skipSpace() {
        while let c = peek(), c.isWhitespace { i += 1 }
    }

    private mutating func expect(_ c: Character) throws {
        guard peek() == c else {
            throw Failure(message: peek().map { "expected '\(c)', found '\($0)'" } ?? "expected '\(c)', found end")
        }
        i += 1
    }
}
