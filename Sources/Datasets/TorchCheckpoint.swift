import GraphIR
import Foundation

/// Element types of PyTorch storages, named by their storage classes (`torch.FloatStorage`, ...).
public enum TorchDType: String, Sendable {
    case float32, float64, float16, bfloat16, int64, int32, int16, int8, uint8, bool

    public var elementSize: Int {
        switch self {
        case .float64, .int64: return 8
        case .float32, .int32: return 4
        case .float16, .bfloat16, .int16: return 2
        case .int8, .uint8, .bool: return 1
        }
    }

    init?(storageClass: String) {
        switch storageClass {
        case "FloatStorage": self = .float32
        case "DoubleStorage": self = .float64
        case "HalfStorage": self = .float16
        case "BFloat16Storage": self = .bfloat16
        case "LongStorage": self = .int64
        case "IntStorage": self = .int32
        case "ShortStorage": self = .int16
        case "CharStorage": self = .int8
        case "ByteStorage": self = .uint8
        case "BoolStorage": self = .bool
        default: return nil
        }
    }
}

/// One tensor of a checkpoint: a strided view into a storage, like torch's own tensors.
public struct TorchTensor: Sendable {
    public let name: String
    public let dtype: TorchDType
    public let shape: [Int]
    public let strides: [Int]
    public let storageOffset: Int
    /// The whole storage's little-endian bytes, shared with other views of the same storage.
    public let storage: ArraySlice<UInt8>
    let file: String

    public var count: Int { shape.reduce(1, *) }

    /// Values in row-major order (what `tensor.flatten()` gives), converted to Float.
    public func floats() throws -> [Float] {
        switch dtype {
        case .float32 where isContiguous && Self.hostIsLittleEndian: return copyContiguous(Float.self)
        case .float32: return gather(UInt32.self) { Float(bitPattern: $0) }
        case .float64: return gather(UInt64.self) { Float(Double(bitPattern: $0)) }
        case .float16: return gather(UInt16.self) { Float(Float16(bitPattern: $0)) }
        case .bfloat16: return gather(UInt16.self) { Float(bitPattern: UInt32($0) << 16) }
        default:
            throw FileError(file, "tensor \(name) holds \(dtype.rawValue), not floating point")
        }
    }

    /// Values in row-major order for integer and bool tensors (e.g. `num_batches_tracked`).
    public func int64s() throws -> [Int64] {
        switch dtype {
        case .int64 where isContiguous && Self.hostIsLittleEndian: return copyContiguous(Int64.self)
        case .int64: return gather(UInt64.self) { Int64(bitPattern: $0) }
        case .int32: return gather(UInt32.self) { Int64(Int32(bitPattern: $0)) }
        case .int16: return gather(UInt16.self) { Int64(Int16(bitPattern: $0)) }
        case .int8: return gather(UInt8.self) { Int64(Int8(bitPattern: $0)) }
        case .uint8, .bool: return gather(UInt8.self) { Int64($0) }
        default:
            throw FileError(file, "tensor \(name) holds \(dtype.rawValue), not integers")
        }
    }

    /// Reads the little-endian `Bits` of every addressed storage element (bounds were checked
    /// at load time) and converts them.
    private func gather<Bits: FixedWidthInteger, T>(_: Bits.Type, _ convert: (Bits) -> T) -> [T] {
        let size = MemoryLayout<Bits>.size
        return storage.withUnsafeBytes { raw in
            let load = { (i: Int) in convert(Bits(littleEndian: raw.loadUnaligned(fromByteOffset: i * size, as: Bits.self))) }
            return isContiguous ? (storageOffset..<(storageOffset + count)).map(load) : storageIndices().map(load)
        }
    }

    static let hostIsLittleEndian = 1.littleEndian == 1

    /// A straight byte copy, valid because storages and the host are both little-endian.
    private func copyContiguous<T>(_: T.Type) -> [T] {
        let n = count, size = MemoryLayout<T>.size
        return [T](unsafeUninitializedCapacity: n) { out, initialized in
            storage.withUnsafeBytes { raw in
                if let dst = out.baseAddress, let src = raw.baseAddress, n > 0 {
                    UnsafeMutableRawPointer(dst).copyMemory(from: src + storageOffset * size, byteCount: n * size)
                }
            }
            initialized = n
        }
    }

    /// Row-major with no gaps (what state_dict tensors almost always are).
    public var isContiguous: Bool {
        var expected = 1
        for (size, stride) in zip(shape, strides).reversed() {
            if size != 1 && stride != expected { return false }
            expected *= size
        }
        return true
    }

    /// Storage element of every tensor element, in row-major order.
    private func storageIndices() -> [Int] {
        let n = count
        guard n > 0 else { return [] }
        var out = [Int](repeating: 0, count: n)
        var index = [Int](repeating: 0, count: shape.count)
        var offset = storageOffset
        for k in 0..<n {
            out[k] = offset
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                offset += strides[d]
                if index[d] < shape[d] { break }
                offset -= strides[d] * shape[d]
                index[d] = 0
                d -= 1
            }
        }
        return out
    }
}

/// A PyTorch state_dict file read without Python: the zip format of `torch.save` (default since
/// 1.6: `<name>/data.pkl` plus one stored entry per storage in `<name>/data/`) and the older
/// single-stream format. Pickles are interpreted by `PickleMachine`, which runs no code.
public struct TorchCheckpoint: Sendable {
    public let path: String
    /// Tensor names in file order.
    public let names: [String]
    public let tensors: [String: TorchTensor]

    public subscript(name: String) -> TorchTensor? { tensors[name] }

    public func tensor(_ name: String) throws -> TorchTensor {
        guard let t = tensors[name] else { throw FileError(path, "has no tensor \"\(name)\"") }
        return t
    }

    /// The legacy format starts with a pickled magic number, 0x1950a86a20f9469cfc6c.
    static let legacyMagic: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19, 0x2E]

    public static func load(path: String) throws -> TorchCheckpoint {
        let bytes = [UInt8](try readFile(path))
        if ZipArchive.isZip(bytes) { return try loadZip(path, bytes) }
        if bytes.starts(with: legacyMagic) { return try loadLegacy(path, bytes) }
        throw FileError(path, "not a PyTorch checkpoint (neither a torch.save zip archive nor the legacy format)")
    }

    private static func loadZip(_ path: String, _ bytes: [UInt8]) throws -> TorchCheckpoint {
        let archive = try ZipArchive(path: path, bytes: bytes)
        // torch.save writes every entry stored (storages are aligned in the file); keep to that.
        let contents = { (entry: ZipArchive.Entry) throws -> ArraySlice<UInt8> in
            guard entry.method == 0 else {
                throw FileError(path, "zip entry \(entry.name) is compressed (method \(entry.method)); torch.save writes stored entries only")
            }
            return try archive.contents(of: entry)
        }
        // torch names the top folder after the file; only data/ and .data/ sit below it.
        let isPickle = { (name: String) -> Bool in
            let parts = name.split(separator: "/", omittingEmptySubsequences: false)
            return parts.last == "data.pkl" && parts.count <= 2
        }
        guard let pkl = archive.entries.first(where: { isPickle($0.name) }) else {
            throw FileError(path, "zip archive has no <name>/data.pkl entry")
        }
        let prefix = String(pkl.name.dropLast("data.pkl".count))
        if let order = archive.entry(named: prefix + "byteorder") {
            let text = String(decoding: try contents(order), as: UTF8.self)
            guard text == "little" else {
                throw FileError(path, "storages are \(text)-endian; only little-endian checkpoints are supported")
            }
        }
        var refs: [String: TorchStorageRef] = [:]
        let context = "zip entry \(pkl.name)"
        var machine = PickleMachine(bytes: Array(try contents(pkl)), start: 0, file: path, context: context) { id, at in
            let ref = try storageRef(id, at, ByteReader(bytes: [], file: path, context: context))
            refs[ref.key] = ref
            return .storage(ref)
        }
        let root = try machine.run()
        var storages: [String: ArraySlice<UInt8>] = [:]
        for key in refs.keys {
            guard let entry = archive.entry(named: prefix + "data/" + key) else {
                throw FileError(path, "zip archive lacks storage entry \(prefix)data/\(key)")
            }
            storages[key] = try contents(entry)
        }
        return try build(path, root, storages)
    }

    /// Pre-1.6 layout: pickles of the magic number, protocol version, system info, the object,
    /// and the sorted storage keys; then each storage as an 8-byte element count and its bytes.
    private static func loadLegacy(_ path: String, _ bytes: [UInt8]) throws -> TorchCheckpoint {
        let context = "legacy torch.save stream"
        let noStorage: (PickleValue, Int) throws -> PickleValue = { _, at in
            throw ByteReader(bytes: [], file: path, context: context).fail(at, "unexpected persistent id")
        }
        var position = legacyMagic.count
        var versionPickle = PickleMachine(bytes: bytes, start: position, file: path, context: context, persistentLoad: noStorage)
        guard case .int(1001) = try versionPickle.run() else {
            throw FileError(path, "\(context): unsupported protocol version (expected 1001)")
        }
        var infoPickle = PickleMachine(bytes: bytes, start: versionPickle.position, file: path, context: context, persistentLoad: noStorage)
        if case let .dict(info) = try infoPickle.run() {
            for (k, v) in info.items {
                if case .string("little_endian") = k, case .bool(false) = v {
                    throw FileError(path, "storages are big-endian; only little-endian checkpoints are supported")
                }
            }
        }
        var refs: [String: TorchStorageRef] = [:]
        var objectPickle = PickleMachine(bytes: bytes, start: infoPickle.position, file: path, context: context) { id, at in
            let ref = try storageRef(id, at, ByteReader(bytes: bytes, file: path, context: context))
            refs[ref.key] = ref
            return .storage(ref)
        }
        let root = try objectPickle.run()
        var keysPickle = PickleMachine(bytes: bytes, start: objectPickle.position, file: path, context: context, persistentLoad: noStorage)
        guard case let .list(keyList) = try keysPickle.run() else {
            throw FileError(path, "\(context), byte \(objectPickle.position): expected the list of storage keys")
        }
        position = keysPickle.position
        let reader = ByteReader(bytes: bytes, file: path, context: context)
        var storages: [String: ArraySlice<UInt8>] = [:]
        for item in keyList.items {
            guard case let .string(key) = item else {
                throw reader.fail(position, "storage key is a \(item.typeName), not a string")
            }
            guard let ref = refs[key] else { throw reader.fail(position, "storage \(key) is not used by any tensor") }
            let numel = try reader.int(u64At: position)
            let (size, overflow) = numel.multipliedReportingOverflow(by: ref.dtype.elementSize)
            guard !overflow else { throw reader.fail(position, "storage \(key) is too large") }
            storages[key] = try reader.slice(position + 8, size)
            position += 8 + size
        }
        return try build(path, root, storages)
    }

    /// `('storage', torch.<Type>Storage, key, location, numel[, view_metadata])`.
    private static func storageRef(_ id: PickleValue, _ at: Int, _ reader: ByteReader) throws -> TorchStorageRef {
        guard case let .tuple(parts) = id, parts.count >= 5, case .string("storage") = parts[0] else {
            throw reader.fail(at, "persistent id is not a ('storage', ...) tuple")
        }
        guard case let .global(_, cls) = parts[1], let dtype = TorchDType(storageClass: cls) else {
            throw reader.fail(at, "unsupported storage type \(parts[1].typeName)")
        }
        guard case let .string(key) = parts[2] else { throw reader.fail(at, "storage key is a \(parts[2].typeName)") }
        guard case let .int(numel) = parts[4], numel >= 0, numel <= Int64(Int32.max) * 64 else {
            throw reader.fail(at, "storage \(key) has an invalid element count")
        }
        if parts.count > 5 {
            guard case .none = parts[5] else {
                throw reader.fail(at, "storage \(key) is a view of another storage (legacy view metadata is not supported)")
            }
        }
        return TorchStorageRef(key: key, dtype: dtype, numel: Int(numel))
    }

    private static func build(_ path: String, _ root: PickleValue,
                              _ storages: [String: ArraySlice<UInt8>]) throws -> TorchCheckpoint {
        let items = try stateDictItems(path, root, nested: true)
        var names: [String] = []
        var tensors: [String: TorchTensor] = [:]
        for (key, value) in items {
            guard case let .string(name) = key else {
                throw FileError(path, "state_dict key is a \(key.typeName), not a string")
            }
            guard case let .tensor(record) = value else {
                throw FileError(path, "state_dict entry \"\(name)\" is a \(value.typeName), not a tensor")
            }
            let ref = record.storage
            let needed = ref.numel * ref.dtype.elementSize
            guard let bytes = storages[ref.key], bytes.count >= needed else {
                throw FileError(path, "storage \(ref.key) of \"\(name)\" has fewer than \(ref.numel) \(ref.dtype.rawValue) elements")
            }
            try checkView(path, name, record)
            if tensors[name] == nil { names.append(name) }
            tensors[name] = TorchTensor(name: name, dtype: ref.dtype, shape: record.shape, strides: record.strides,
                                        storageOffset: record.storageOffset,
                                        storage: bytes.prefix(needed), file: path)
        }
        return TorchCheckpoint(path: path, names: names, tensors: tensors)
    }

    /// A plain state_dict, or a checkpoint dict holding one under "state_dict" / "model".
    private static func stateDictItems(_ path: String, _ root: PickleValue, nested: Bool) throws -> [(key: PickleValue, value: PickleValue)] {
        guard case let .dict(dict) = root else {
            throw FileError(path, "holds a \(root.typeName), not a state_dict")
        }
        let allTensors = dict.items.allSatisfy { if case .tensor = $0.value { return true } else { return false } }
        if !allTensors && nested {
            for (k, v) in dict.items {
                if case let .string(s) = k, s == "state_dict" || s == "model", case .dict = v {
                    return try stateDictItems(path, v, nested: false)
                }
            }
        }
        return dict.items
    }

    /// Every element the view addresses must lie inside its storage.
    private static func checkView(_ path: String, _ name: String, _ t: TorchTensorRecord) throws {
        guard t.shape.count == t.strides.count else {
            throw FileError(path, "tensor \"\(name)\" has \(t.shape.count) sizes but \(t.strides.count) strides")
        }
        var count = 1, last = t.storageOffset, overflow = false
        for (size, stride) in zip(t.shape, t.strides) {
            (count, overflow) = count.multipliedReportingOverflow(by: size)
            if overflow { break }
            if size > 0 {
                let (step, o1) = (size - 1).multipliedReportingOverflow(by: stride)
                let (sum, o2) = last.addingReportingOverflow(step)
                if o1 || o2 { overflow = true; break }
                last = sum
            }
        }
        guard !overflow, count == 0 || last < t.storage.numel else {
            throw FileError(path, "tensor \"\(name)\" (size \(t.shape), stride \(t.strides), offset \(t.storageOffset)) reaches past its storage of \(t.storage.numel) elements")
        }
        // Zero strides could make a tiny storage claim billions of elements; a saved state_dict
        // never expands a storage that far.
        guard count <= max(t.storage.numel, 1 << 24) else {
            throw FileError(path, "tensor \"\(name)\" has \(count) elements, far more than its storage of \(t.storage.numel)")
        }
    }
}
