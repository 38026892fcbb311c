import Foundation
import GraphIR

/// The safetensors checkpoint format (Hugging Face's): an 8-byte little-endian header length
/// N, N bytes of JSON header `{"__metadata__": {...}, "name": {"dtype": "F32", "shape": [..],
/// "data_offsets": [begin, end]}, ...}` padded with spaces to a multiple of 8, then the tensor
/// bytes (little-endian, C order), offsets relative to the start of that buffer.
///
/// The writer lays tensors out as the reference implementation does (widest dtype first, then
/// by name, with the header listing them in that order and compact JSON), so files are
/// byte-identical to the Python library's for the same tensors. Plain Swift types keep this
/// independent of the runtime's tensor classes.
public enum SafeTensors {
    public typealias Entry = (name: String, dtype: String, shape: [Int], data: Data)
    public typealias Tensor = (dtype: String, shape: [Int], data: Data)

    /// Bytes per element of each dtype, in the reference implementation's dtype order (the
    /// writer sorts by this order, descending, before names).
    static let dtypes: [(name: String, size: Int)] = [
        ("BOOL", 1), ("U8", 1), ("I8", 1), ("F8_E5M2", 1), ("F8_E4M3", 1), ("I16", 2), ("U16", 2),
        ("F16", 2), ("BF16", 2), ("I32", 4), ("U32", 4), ("F32", 4), ("F64", 8), ("I64", 8), ("U64", 8),
    ]

    static func dtypeRank(_ dtype: String) -> Int? { dtypes.firstIndex { $0.name == dtype } }
    static func dtypeSize(_ dtype: String) -> Int? { dtypes.first { $0.name == dtype }?.size }

    /// Writes `tensors` and optional string `metadata` to `path` atomically.
    public static func write(_ tensors: [Entry], metadata: [String: String]? = nil, to path: String) throws {
        let bytes = try encode(tensors, metadata: metadata, file: path)
        do {
            try AtomicFile.write(bytes, to: URL(fileURLWithPath: path))
        } catch {
            throw FileError(path, "cannot write: \(error.localizedDescription)")
        }
    }

    /// The file contents for `tensors`; `file` only names the target in errors.
    public static func encode(_ tensors: [Entry], metadata: [String: String]? = nil, file: String = "<safetensors>") throws -> Data {
        var seen = Set<String>()
        for t in tensors {
            guard !t.name.isEmpty, t.name != "__metadata__" else {
                throw FileError(file, "invalid tensor name '\(t.name)'")
            }
            guard seen.insert(t.name).inserted else { throw FileError(file, "duplicate tensor name '\(t.name)'") }
            guard let size = dtypeSize(t.dtype) else {
                throw FileError(file, "tensor '\(t.name)': unknown dtype '\(t.dtype)' (known: \(dtypes.map(\.name).joined(separator: ", ")))")
            }
            guard let count = checkedElementCount(t.shape) else {
                throw FileError(file, "tensor '\(t.name)': invalid shape \(t.shape)")
            }
            guard count.multipliedReportingOverflow(by: size) == (t.data.count, false) else {
                throw FileError(file, "tensor '\(t.name)': \(t.dtype) \(t.shape) needs \(count * size) bytes, got \(t.data.count)")
            }
        }
        let ordered = tensors.sorted { a, b in
            let ra = dtypeRank(a.dtype) ?? 0, rb = dtypeRank(b.dtype) ?? 0
            return ra != rb ? ra > rb : a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
        var header = "{"
        var fields: [String] = []
        if let metadata {
            let items = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0] ?? ""))" }
            fields.append("\"__metadata__\":{" + items.joined(separator: ",") + "}")
        }
        var offset = 0
        for t in ordered {
            let end = offset + t.data.count
            fields.append("\(jsonString(t.name)):{\"dtype\":\(jsonString(t.dtype)),\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += fields.joined(separator: ",") + "}"
        var headerBytes = Array(header.utf8)
        headerBytes += [UInt8](repeating: 0x20, count: (8 - headerBytes.count % 8) % 8)

        var out = Data(capacity: 8 + headerBytes.count + offset)
        var n = UInt64(headerBytes.count).littleEndian
        withUnsafeBytes(of: &n) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for t in ordered { out.append(t.data) }
        return out
    }

    /// Reads every tensor of `path`, validating the whole file first.
    public static func read(path: String) throws -> [String: Tensor] {
        try readWithMetadata(path: path).tensors
    }

    public static func readWithMetadata(path: String) throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let data: Data
        if let problem = InputFile.problem(path) { throw FileError(path, problem) }
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw FileError(path, FileManager.default.fileExists(atPath: path) ? "cannot read: \(error.localizedDescription)" : "no such file")
        }
        return try decode(data, file: path)
    }

    /// Parses and validates file contents: the header length lies within the file, the header
    /// is a JSON object of well-formed entries, every dtype is known, each tensor's byte range
    /// matches its dtype and shape, and the ranges tile the buffer exactly (no gap, no overlap).
    public static func decode(_ data: Data, file: String = "<safetensors>") throws -> (tensors: [String: Tensor], metadata: [String: String]) {
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw FileError(file, "truncated: \(bytes.count) bytes, too short for the 8-byte header length") }
        let headerLength = (0..<8).reduce(UInt64(0)) { $0 | UInt64(bytes[$1]) << (8 * UInt64($1)) }
        guard headerLength <= UInt64(bytes.count - 8) else {
            throw FileError(file, "header length \(headerLength) exceeds the \(bytes.count - 8) bytes after it")
        }
        let headerEnd = 8 + Int(headerLength)
        let headerBytes = Array(bytes[8..<headerEnd])
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw FileError(file, "header does not start with '{' (not a safetensors file?)")
        }
        guard String(bytes: headerBytes, encoding: .utf8) != nil else { throw FileError(file, "header is not valid UTF-8") }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(headerBytes))
        } catch {
            throw FileError(file, "header is not valid JSON: \(error.localizedDescription)")
        }
        guard let object = json as? [String: Any] else { throw FileError(file, "header is not a JSON object") }

        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: String, shape: [Int], begin: Int, end: Int)] = []
        for (name, value) in object {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw FileError(file, "__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw FileError(file, "__metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value as? [String: Any] else { throw FileError(file, "tensor '\(name)': entry is not an object") }
            guard let dtype = info["dtype"] as? String else { throw FileError(file, "tensor '\(name)': missing or non-string dtype") }
            guard let size = dtypeSize(dtype) else { throw FileError(file, "tensor '\(name)': unknown dtype '\(dtype)'") }
            guard let shapeValues = info["shape"] as? [Any], let shape = integers(shapeValues) else {
                throw FileError(file, "tensor '\(name)': shape is missing or not a list of non-negative integers")
            }
            guard let offsetValues = info["data_offsets"] as? [Any], let offsets = integers(offsetValues), offsets.count == 2 else {
                throw FileError(file, "tensor '\(name)': data_offsets is missing or not [begin, end]")
            }
            guard offsets[0] <= offsets[1] else {
                throw FileError(file, "tensor '\(name)': data_offsets [\(offsets[0]), \(offsets[1])] end before they begin")
            }
            guard let count = checkedElementCount(shape), case let (bytesNeeded, false) = count.multipliedReportingOverflow(by: size),
                  bytesNeeded == offsets[1] - offsets[0] else {
                throw FileError(file, "tensor '\(name)': \(dtype) \(shape) does not fit data_offsets [\(offsets[0]), \(offsets[1])] (\(offsets[1] - offsets[0]) bytes)")
            }
            entries.append((name, dtype, shape, offsets[0], offsets[1]))
        }

        let bufferSize = bytes.count - headerEnd
        entries.sort { $0.begin != $1.begin ? $0.begin < $1.begin : $0.end < $1.end }
        var expected = 0
        for e in entries {
            guard e.begin == expected else {
                throw FileError(file, e.begin < expected
                    ? "tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)] overlap the previous tensor (ending at \(expected))"
                    : "tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)] leave a gap after byte \(expected)")
            }
            expected = e.end
        }
        guard expected == bufferSize else {
            throw FileError(file, expected > bufferSize
                ? "truncated: tensors need \(expected) data bytes, file has \(bufferSize)"
                : "tensors cover \(expected) data bytes but the file has \(bufferSize)")
        }
        var tensors: [String: Tensor] = [:]
        for e in entries {
            tensors[e.name] = (e.dtype, e.shape, Data(bytes[(headerEnd + e.begin)..<(headerEnd + e.end)]))
        }
        return (tensors, metadata)
    }

    /// Non-negative integers from a JSON array; nil for anything else. JSONSerialization gives
    /// NSNumbers for numbers and booleans alike, so the encoding tells them apart: booleans are
    /// "c", reals "d"/"f".
    private static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in values {
            guard let n = v as? NSNumber else { return nil }
            let kind = String(cString: n.objCType)
            guard kind != "c", kind != "d", kind != "f", n.int64Value >= 0, n.int64Value <= Int64(1) << 53 else { return nil }
            out.append(n.intValue)
        }
        return out
    }

    /// A JSON string literal, escaped as serde_json does (quote, backslash, control characters).
    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
