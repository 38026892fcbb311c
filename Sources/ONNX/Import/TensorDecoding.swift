import Foundation
import GraphIR
import Runtime

/// Reads ONNX tensors (initializers, `Constant` values, the `.pb` files of the ONNX test data)
/// into `HostTensor`s. Every size is checked before memory is spent: each dimension is
/// non-negative, the element count fits the memory budget, and the stored data (typed field,
/// raw bytes or external file) holds exactly as many elements as the shape.
public enum ONNXTensors {
    /// Reads a serialized `TensorProto` (`input_0.pb`, `output_0.pb` in the ONNX test data);
    /// its external data, if any, is looked up next to it.
    public static func read(path: String) throws -> (name: String, tensor: HostTensor) {
        let data = try ONNXFile.contents(path, what: "tensor file")
        let proto: Onnx_TensorProto
        do { proto = try Onnx_TensorProto(serializedBytes: data) } catch {
            throw ONNXError(file: path, "not an ONNX TensorProto (protobuf decoding failed: \(error))")
        }
        let folder = (path as NSString).deletingLastPathComponent
        return (proto.name, try decode(proto, file: path, folder: folder.isEmpty ? "." : folder))
    }

    /// graphc's element type for an ONNX data type: float and double become f32, every integer
    /// type and bool i64 (as graphc holds indices); nil for what graphc cannot hold.
    public static func dtype(onnx: Int32) -> DType? {
        switch onnx {
        case 1, 11: return .f32
        case 2, 3, 4, 5, 6, 7, 9, 12, 13: return .i64
        default: return nil
        }
    }

    /// The ONNX name of a data type, for messages.
    public static func typeName(_ onnx: Int32) -> String {
        Onnx_TensorProto.DataType(rawValue: Int(onnx)).map { "\($0)" } ?? "data type \(onnx)"
    }

    /// Decodes `t`; `file` names the model in messages and `folder` is where its external data
    /// files must lie.
    public static func decode(_ t: Onnx_TensorProto, file: String, folder: String) throws -> HostTensor {
        let what = t.name.isEmpty ? "a tensor" : "tensor \"\(t.name)\""
        func fail(_ m: String) -> ONNXError { ONNXError(file: file, "\(what): \(m)") }
        guard let dtype = dtype(onnx: t.dataType) else {
            throw fail("element type \(typeName(t.dataType)) is not supported (graphc holds float32 and int64; float, double, integers and bool are converted)")
        }
        var shape: [Int] = []
        for d in t.dims {
            guard d >= 0, d <= Int64(Int32.max) else { throw fail("dimension \(d) in its shape \(t.dims) is out of range") }
            shape.append(Int(d))
        }
        let width = ONNXTensors.storedWidth(t.dataType)
        guard let bytes = MemoryBudget.bytes(elements: shape, byteSize: max(width, dtype.byteSize)) else {
            throw fail("shape \(t.dims) holds more elements than can be counted")
        }
        do { try MemoryBudget.check(bytes, for: "\(what) of shape \(t.dims)") } catch let e as RuntimeError {
            throw ONNXError(file: file, e.message)
        }
        let count = shape.reduce(1, *)

        if t.dataLocation == .external || !t.externalData.isEmpty {
            let raw = try ExternalData.read(t, file: file, folder: folder, expectedBytes: count * width)
            return try fromRaw(raw, type: t.dataType, shape: shape, count: count, fail: fail)
        }
        if t.hasRawData {
            return try fromRaw(t.rawData, type: t.dataType, shape: shape, count: count, fail: fail)
        }
        func check(_ stored: Int, _ field: String) throws {
            guard stored == count else {
                throw fail("its shape \(t.dims) needs \(count) values but \(field) holds \(stored)")
            }
        }
        switch t.dataType {
        case 1:
            try check(t.floatData.count, "float_data")
            return HostTensor(shape: shape, floats: t.floatData)
        case 11:
            try check(t.doubleData.count, "double_data")
            return HostTensor(shape: shape, floats: t.doubleData.map { Float($0) })
        case 7:
            try check(t.int64Data.count, "int64_data")
            return HostTensor(shape: shape, ints: t.int64Data)
        case 13:
            try check(t.uint64Data.count, "uint64_data")
            return HostTensor(shape: shape, ints: t.uint64Data.map { Int64(truncatingIfNeeded: $0) })
        default:
            try check(t.int32Data.count, "int32_data")
            return HostTensor(shape: shape, ints: t.int32Data.map { Int64($0) })
        }
    }

    /// Bytes per element in raw data.
    static func storedWidth(_ type: Int32) -> Int {
        switch type {
        case 2, 3, 9: return 1
        case 4, 5: return 2
        case 1, 6, 12: return 4
        default: return 8
        }
    }

    /// Little-endian raw bytes, exactly `count` elements of the type.
    static func fromRaw(_ raw: Data, type: Int32, shape: [Int], count: Int, fail: (String) -> ONNXError) throws -> HostTensor {
        let width = storedWidth(type)
        guard raw.count == count * width else {
            throw fail("its shape \(shape) of \(typeName(type)) needs \(count * width) bytes of raw data but \(raw.count) are stored")
        }
        func load<T: FixedWidthInteger>(_: T.Type) -> [T] {
            raw.withUnsafeBytes { p in (0..<count).map { T(littleEndian: p.loadUnaligned(fromByteOffset: $0 * width, as: T.self)) } }
        }
        switch type {
        case 1: return HostTensor(shape: shape, floats: load(UInt32.self).map { Float(bitPattern: $0) })
        case 11: return HostTensor(shape: shape, floats: load(UInt64.self).map { Float(Double(bitPattern: $0)) })
        case 2, 9: return HostTensor(shape: shape, ints: load(UInt8.self).map { Int64($0) })
        case 3: return HostTensor(shape: shape, ints: load(Int8.self).map { Int64($0) })
        case 4: return HostTensor(shape: shape, ints: load(UInt16.self).map { Int64($0) })
        case 5: return HostTensor(shape: shape, ints: load(Int16.self).map { Int64($0) })
        case 6: return HostTensor(shape: shape, ints: load(Int32.self).map { Int64($0) })
        case 12: return HostTensor(shape: shape, ints: load(UInt32.self).map { Int64($0) })
        case 13: return HostTensor(shape: shape, ints: load(UInt64.self).map { Int64(truncatingIfNeeded: $0) })
        default: return HostTensor(shape: shape, ints: load(Int64.self))
        }
    }
}

/// External data: a tensor's bytes in another file, named by a path relative to the model's
/// folder. A path that leaves the folder (absolute, `..`, or a symbolic link pointing out) is
/// refused, so a model cannot make graphc read arbitrary files.
enum ExternalData {
    static func read(_ t: Onnx_TensorProto, file: String, folder: String, expectedBytes: Int) throws -> Data {
        let what = t.name.isEmpty ? "a tensor" : "tensor \"\(t.name)\""
        func fail(_ m: String) -> ONNXError { ONNXError(file: file, "\(what): external data: \(m)") }
        var entries: [String: String] = [:]
        for e in t.externalData { entries[e.key] = e.value }
        guard let location = entries["location"], !location.isEmpty else { throw fail("no \"location\" given") }
        guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
            throw fail("the path \"\(location)\" leaves the model's folder (it must be relative, without \"..\")")
        }
        func number(_ key: String) throws -> Int? {
            guard let s = entries[key] else { return nil }
            guard let n = Int(s), n >= 0 else { throw fail("\"\(key)\" is \"\(s)\", not a byte count") }
            return n
        }
        let offset = try number("offset") ?? 0
        let path = (folder as NSString).appendingPathComponent(location)
        let realFolder = URL(fileURLWithPath: folder).resolvingSymlinksInPath().path
        let realPath = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
        guard realPath.hasPrefix(realFolder.hasSuffix("/") ? realFolder : realFolder + "/") else {
            throw fail("the path \"\(location)\" leads out of the model's folder (through a symbolic link)")
        }
        if let problem = InputFile.problem(path) { throw fail("\(path) \(problem)") }
        let length = try number("length") ?? expectedBytes
        guard length == expectedBytes else {
            throw fail("\"length\" is \(length) bytes but the tensor's shape needs \(expectedBytes)")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw fail("cannot open \(path)") }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()).map { Int($0) } ?? 0
        guard offset <= size, length <= size - offset else {
            throw fail("\(path) holds \(size) bytes, too few for \(length) bytes at offset \(offset)")
        }
        do {
            try handle.seek(toOffset: UInt64(offset))
            let data = try handle.read(upToCount: length) ?? Data()
            guard data.count == length else { throw fail("\(path): read \(data.count) of \(length) bytes") }
            return data
        } catch let e as ONNXError { throw e } catch {
            throw fail("cannot read \(path): \(error.localizedDescription)")
        }
    }
}

/// Reading the model and tensor files themselves: regular files only, within a size limit.
enum ONNXFile {
    /// The largest `.onnx` or `.pb` file read whole (weights above it go in external data).
    static let maxBytes = 2 << 30

    static func contents(_ path: String, what: String) throws -> Data {
        if let problem = InputFile.problem(path, maxBytes: maxBytes) {
            throw ONNXError(file: path, "cannot read the \(what): it \(problem)")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ONNXError(file: path, "cannot read the \(what) (unreadable)")
        }
        return data
    }
}
