import GraphIR
import CJSONC
import Foundation

/// A JSON document parsed by json-c and copied into Swift values, so that validation never holds
/// json-c pointers (the json-c tree is freed before `parse` returns).
indirect enum CaptionsJSONValue {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([CaptionsJSONValue])
    /// Members in file order; `index` maps a key to its first position.
    case object(keys: [String], values: [CaptionsJSONValue], index: [String: Int])

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int: return "an integer"
        case .double: return "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }
}

enum CaptionsJSONFile {
    /// Parses `path` strictly (RFC 8259: no comments, no trailing commas), reporting syntax errors
    /// with line, column and byte offset.
    static func parse(path: String) throws -> CaptionsJSONCursor {
        let data = try readFile(path)
        return CaptionsJSONCursor(file: path, path: "", value: try parse(data: data, file: path))
    }

    static func parse(data: Data, file: String) throws -> CaptionsJSONValue {
        guard let tok = json_tokener_new() else {
            throw FileError(file, "json-c could not allocate a parser")
        }
        defer { json_tokener_free(tok) }
        json_tokener_set_flags(tok, Int32(JSON_TOKENER_STRICT))
        guard data.count < Int(Int32.max) else {
            throw FileError(file, "JSON file too large (\(data.count) bytes)")
        }
        guard !data.isEmpty else { throw FileError(file, "empty file, expected JSON") }
        let (root, parseEnd, status): (OpaquePointer?, Int, json_tokener_error) = data.withUnsafeBytes { raw in
            guard let base = raw.bindMemory(to: CChar.self).baseAddress else { return (nil, 0, json_tokener_continue) }
            let obj = json_tokener_parse_ex(tok, base, Int32(raw.count))
            return (obj, Int(json_tokener_get_parse_end(tok)), json_tokener_get_error(tok))
        }
        guard let root else {
            let reason: String
            if status == json_tokener_continue || status == json_tokener_success {
                reason = "unexpected end of file"
            } else {
                reason = String(cString: json_tokener_error_desc(status))
            }
            let offset = min(parseEnd, data.count)
            throw FileError(file, "JSON syntax error at \(position(of: offset, in: data)): \(reason)")
        }
        defer { json_object_put(root) }
        // json-c stops after the first complete value; anything but whitespace after it is an error.
        if let extra = data[(data.startIndex + parseEnd)...].firstIndex(where: { !isJSONSpace($0) }) {
            let offset = extra - data.startIndex
            throw FileError(file, "JSON syntax error at \(position(of: offset, in: data)): unexpected data after the top-level value")
        }
        return convert(root)
    }

    private static func isJSONSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    /// "line L, column C (byte B)", 1-based line and column, 0-based byte offset.
    static func position(of offset: Int, in data: Data) -> String {
        var line = 1, column = 1
        for b in data.prefix(offset) {
            if b == 0x0A { line += 1; column = 1 } else { column += 1 }
        }
        return "line \(line), column \(column) (byte \(offset))"
    }

    private static func convert(_ obj: OpaquePointer?) -> CaptionsJSONValue {
        guard let obj else { return .null }
        switch json_object_get_type(obj) {
        case json_type_boolean:
            return .bool(json_object_get_boolean(obj) != 0)
        case json_type_int:
            return .int(json_object_get_int64(obj))
        case json_type_double:
            return .double(json_object_get_double(obj))
        case json_type_string:
            let len = Int(json_object_get_string_len(obj))
            guard let p = json_object_get_string(obj) else { return .string("") }
            let bytes = UnsafeRawBufferPointer(start: p, count: len)
            return .string(String(decoding: bytes, as: UTF8.self))
        case json_type_array:
            let n = json_object_array_length(obj)
            var items: [CaptionsJSONValue] = []
            items.reserveCapacity(n)
            for i in 0..<n { items.append(convert(json_object_array_get_idx(obj, i))) }
            return .array(items)
        case json_type_object:
            var keys: [String] = [], values: [CaptionsJSONValue] = [], index: [String: Int] = [:]
            var it = json_object_iter_begin(obj)
            var end = json_object_iter_end(obj)
            while json_object_iter_equal(&it, &end) == 0 {
                let key = json_object_iter_peek_name(&it).map { String(cString: $0) } ?? ""
                if index[key] == nil { index[key] = keys.count }
                keys.append(key)
                values.append(convert(json_object_iter_peek_value(&it)))
                json_object_iter_next(&it)
            }
            return .object(keys: keys, values: values, index: index)
        default:
            return .null
        }
    }
}

/// A JSON value together with where it is (file and JSON path such as `captions_tokens[17]`),
/// so every validation error can say exactly which element is wrong.
struct CaptionsJSONCursor {
    let file: String
    let path: String
    let value: CaptionsJSONValue

    func error(_ what: String) -> FileError {
        FileError(file, path.isEmpty ? what : "\(path) \(what)")
    }

    private func childPath(_ key: String) -> String {
        let plain = !key.isEmpty && key.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
            && !(key.first?.isNumber ?? true)
        if plain { return path.isEmpty ? key : "\(path).\(key)" }
        let quoted = key.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "\(path)[\"\(quoted)\"]"
    }

    /// The members of an object, in file order.
    func members() throws -> [(key: String, value: CaptionsJSONCursor)] {
        guard case let .object(keys, values, _) = value else { throw error("is \(value.typeName), expected an object") }
        return zip(keys, values).map { ($0, CaptionsJSONCursor(file: file, path: childPath($0), value: $1)) }
    }

    func member(_ key: String) throws -> CaptionsJSONCursor {
        guard case let .object(_, values, index) = value else { throw error("is \(value.typeName), expected an object") }
        guard let i = index[key] else {
            throw FileError(file, path.isEmpty ? "missing key \"\(key)\"" : "\(path): missing key \"\(key)\"")
        }
        return CaptionsJSONCursor(file: file, path: childPath(key), value: values[i])
    }

    func optionalMember(_ key: String) throws -> CaptionsJSONCursor? {
        guard case let .object(_, values, index) = value else { throw error("is \(value.typeName), expected an object") }
        return index[key].map { CaptionsJSONCursor(file: file, path: childPath(key), value: values[$0]) }
    }

    func elements() throws -> [CaptionsJSONCursor] {
        guard case let .array(items) = value else { throw error("is \(value.typeName), expected an array") }
        return items.enumerated().map { CaptionsJSONCursor(file: file, path: "\(path)[\($0.offset)]", value: $0.element) }
    }

    func string() throws -> String {
        guard case let .string(s) = value else { throw error("is \(value.typeName), expected a string") }
        return s
    }

    func int() throws -> Int {
        guard case let .int(i) = value else { throw error("is \(value.typeName), expected an integer") }
        return Int(i)
    }

    /// An array of strings, e.g. one tokenised caption.
    func strings() throws -> [String] {
        guard case let .array(items) = value else { throw error("is not an array of strings (it is \(value.typeName))") }
        var out: [String] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            guard case let .string(s) = item else {
                throw error("is not an array of strings (element \(i) is \(item.typeName))")
            }
            out.append(s)
        }
        return out
    }
}
