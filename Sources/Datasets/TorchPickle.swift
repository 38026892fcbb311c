import Foundation

/// Values of the pickle subset that `torch.save` of a state_dict produces. Lists and dicts are
/// classes because pickle mutates them after creation through memo references.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    case global(module: String, name: String)
    case storage(TorchStorageRef)
    case tensor(TorchTensorRecord)

    var typeName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case let .global(module, name): return "\(module).\(name)"
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

final class PickleList { var items: [PickleValue] = [] }

/// Insertion-ordered, as Python dicts are; a repeated key keeps its first position.
final class PickleDict {
    var items: [(key: PickleValue, value: PickleValue)] = []
}

/// A storage named by a persistent id: `('storage', torch.FloatStorage, key, location, numel)`.
struct TorchStorageRef {
    var key: String
    var dtype: TorchDType
    var numel: Int
}

/// The arguments of `torch._utils._rebuild_tensor_v2`.
struct TorchTensorRecord {
    var storage: TorchStorageRef
    var storageOffset: Int
    var shape: [Int]
    var strides: [Int]
}

/// A pickle virtual machine for protocols 2-5 restricted to plain data plus the few callables
/// torch state_dicts use (OrderedDict, tensor/parameter rebuilders). Nothing is executed: an
/// unknown callable or opcode is an error naming the byte offset.
struct PickleMachine {
    let reader: ByteReader
    var position: Int
    /// Resolves BINPERSID ids (torch storages).
    let persistentLoad: (PickleValue, Int) throws -> PickleValue

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    init(bytes: [UInt8], start: Int, file: String, context: String,
         persistentLoad: @escaping (PickleValue, Int) throws -> PickleValue) {
        self.reader = ByteReader(bytes: bytes, file: file, context: context)
        self.position = start
        self.persistentLoad = persistentLoad
    }

    /// Runs to STOP and returns the unpickled value; `position` is then just past STOP.
    mutating func run() throws -> PickleValue {
        while true {
            let at = position
            let op = try reader.unsigned(at, 1)
            position += 1
            switch UInt8(op) {
            case 0x80: position += 1                                  // PROTO
            case 0x95: position += 8                                  // FRAME: framing is only a hint
            case 0x2E:                                                // STOP
                guard let result = stack.popLast(), stack.isEmpty, marks.isEmpty else {
                    throw reader.fail(at, "STOP with \(stack.count) values on the stack")
                }
                return result
            case 0x28: marks.append(stack.count)                      // MARK
            case 0x30: _ = try pop(at)                                // POP
            case 0x31: _ = try popMark(at)                            // POP_MARK
            case 0x32: stack.append(try top(at))                      // DUP
            case 0x4E: stack.append(.none)                            // NONE
            case 0x88: stack.append(.bool(true))                      // NEWTRUE
            case 0x89: stack.append(.bool(false))                     // NEWFALSE
            case 0x4A:                                                // BININT
                stack.append(.int(Int64(Int32(truncatingIfNeeded: try reader.unsigned(position, 4)))))
                position += 4
            case 0x4B: stack.append(.int(Int64(try reader.unsigned(position, 1)))); position += 1  // BININT1
            case 0x4D: stack.append(.int(Int64(try reader.unsigned(position, 2)))); position += 2  // BININT2
            case 0x8A:                                                // LONG1
                let n = Int(try reader.unsigned(position, 1))
                stack.append(.int(try long(position + 1, n, at)))
                position += 1 + n
            case 0x8B:                                                // LONG4
                let n = Int(try reader.unsigned(position, 4))
                stack.append(.int(try long(position + 4, n, at)))
                position += 4 + n
            case 0x47:                                                // BINFLOAT, big-endian
                stack.append(.float(Double(bitPattern: try reader.bigEndianUnsigned(position, 8))))
                position += 8
            case 0x58: stack.append(.string(try text(lengthWidth: 4)))            // BINUNICODE
            case 0x8C: stack.append(.string(try text(lengthWidth: 1)))            // SHORT_BINUNICODE
            case 0x8D: stack.append(.string(try text(lengthWidth: 8)))            // BINUNICODE8
            case 0x54: stack.append(.string(try text(lengthWidth: 4)))            // BINSTRING
            case 0x55: stack.append(.string(try text(lengthWidth: 1)))            // SHORT_BINSTRING
            case 0x42: stack.append(.bytes(Array(try blob(lengthWidth: 4))))      // BINBYTES
            case 0x43: stack.append(.bytes(Array(try blob(lengthWidth: 1))))      // SHORT_BINBYTES
            case 0x8E: stack.append(.bytes(Array(try blob(lengthWidth: 8))))      // BINBYTES8
            case 0x29: stack.append(.tuple([]))                                   // EMPTY_TUPLE
            case 0x74: stack.append(.tuple(try popMark(at)))                      // TUPLE
            case 0x85, 0x86, 0x87:                                                // TUPLE1..3
                let n = Int(op) - 0x84
                guard stack.count - (marks.last ?? 0) >= n else { throw reader.fail(at, "TUPLE\(n) needs \(n) values") }
                let items = Array(stack.suffix(n))
                stack.removeLast(n)
                stack.append(.tuple(items))
            case 0x5D: stack.append(.list(PickleList()))                          // EMPTY_LIST
            case 0x6C:                                                            // LIST
                let list = PickleList()
                list.items = try popMark(at)
                stack.append(.list(list))
            case 0x61:                                                            // APPEND
                let item = try pop(at)
                try list(at).items.append(item)
            case 0x65:                                                            // APPENDS
                let items = try popMark(at)
                try list(at).items.append(contentsOf: items)
            case 0x7D: stack.append(.dict(PickleDict()))                          // EMPTY_DICT
            case 0x64:                                                            // DICT
                let dict = PickleDict()
                try setItems(dict, try popMark(at), at)
                stack.append(.dict(dict))
            case 0x73:                                                            // SETITEM
                let value = try pop(at), key = try pop(at)
                try setItems(try dict(at), [key, value], at)
            case 0x75:                                                            // SETITEMS
                let items = try popMark(at)
                try setItems(try dict(at), items, at)
            case 0x63:                                                            // GLOBAL "module\nname\n"
                let module = try line(at), name = try line(at)
                stack.append(.global(module: module, name: name))
            case 0x93:                                                            // STACK_GLOBAL
                let name = try pop(at), module = try pop(at)
                guard case let .string(m) = module, case let .string(n) = name else {
                    throw reader.fail(at, "STACK_GLOBAL needs two strings")
                }
                stack.append(.global(module: m, name: n))
            case 0x52:                                                            // REDUCE
                let args = try pop(at), callable = try pop(at)
                stack.append(try reduce(callable, args, at))
            case 0x62:                                                            // BUILD
                // The state (e.g. a state_dict's `_metadata` attribute) carries no tensor data.
                _ = try pop(at)
                _ = try top(at)
            case 0x51:                                                            // BINPERSID
                stack.append(try persistentLoad(try pop(at), at))
            case 0x71: try put(Int(try reader.unsigned(position, 1)), at); position += 1  // BINPUT
            case 0x72: try put(Int(try reader.unsigned(position, 4)), at); position += 4  // LONG_BINPUT
            case 0x94: try put(memo.count, at)                                            // MEMOIZE
            case 0x68: try get(Int(try reader.unsigned(position, 1)), at); position += 1  // BINGET
            case 0x6A: try get(Int(try reader.unsigned(position, 4)), at); position += 4  // LONG_BINGET
            default:
                throw reader.fail(at, String(format: "unsupported pickle opcode 0x%02X", Int(op)))
            }
        }
    }

    private mutating func pop(_ at: Int) throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let v = stack.popLast() else { throw reader.fail(at, "pickle stack underflow") }
        return v
    }

    private func top(_ at: Int) throws -> PickleValue {
        guard stack.count > (marks.last ?? 0), let v = stack.last else { throw reader.fail(at, "pickle stack underflow") }
        return v
    }

    private mutating func popMark(_ at: Int) throws -> [PickleValue] {
        guard let mark = marks.popLast() else { throw reader.fail(at, "no MARK on the pickle stack") }
        let items = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return items
    }

    private func list(_ at: Int) throws -> PickleList {
        guard case let .list(l) = try top(at) else { throw reader.fail(at, "APPEND to a non-list") }
        return l
    }

    private func dict(_ at: Int) throws -> PickleDict {
        guard case let .dict(d) = try top(at) else { throw reader.fail(at, "SETITEM on a non-dict") }
        return d
    }

    private func setItems(_ dict: PickleDict, _ flat: [PickleValue], _ at: Int) throws {
        guard flat.count % 2 == 0 else { throw reader.fail(at, "odd number of values for dict items") }
        for i in stride(from: 0, to: flat.count, by: 2) {
            dict.items.append((flat[i], flat[i + 1]))
        }
    }

    private mutating func put(_ index: Int, _ at: Int) throws { memo[index] = try top(at) }

    private mutating func get(_ index: Int, _ at: Int) throws {
        guard let v = memo[index] else { throw reader.fail(at, "memo entry \(index) was never stored") }
        stack.append(v)
    }

    /// Little-endian two's complement of `n` bytes; up to 8 bytes (larger ints never occur here).
    private func long(_ offset: Int, _ n: Int, _ at: Int) throws -> Int64 {
        guard n <= 8 else { throw reader.fail(at, "integer of \(n) bytes is too large") }
        guard n > 0 else { return 0 }
        let raw = try reader.unsigned(offset, n)
        let shift = UInt64(64 - 8 * n)
        return Int64(bitPattern: raw << shift) >> Int64(shift)
    }

    private mutating func blob(lengthWidth: Int) throws -> ArraySlice<UInt8> {
        let n = try reader.unsigned(position, lengthWidth)
        guard n <= UInt64(reader.bytes.count) else { throw reader.fail(position, "length \(n) exceeds the file") }
        let data = try reader.slice(position + lengthWidth, Int(n))
        position += lengthWidth + Int(n)
        return data
    }

    private mutating func text(lengthWidth: Int) throws -> String {
        String(decoding: try blob(lengthWidth: lengthWidth), as: UTF8.self)
    }

    private mutating func line(_ at: Int) throws -> String {
        var end = position
        while true {
            let b = try reader.unsigned(end, 1)
            if b == 0x0A { break }
            end += 1
            guard end - position < 1024 else { throw reader.fail(at, "GLOBAL name too long") }
        }
        let s = String(decoding: try reader.slice(position, end - position), as: UTF8.self)
        position = end + 1
        return s
    }

    private func reduce(_ callable: PickleValue, _ args: PickleValue, _ at: Int) throws -> PickleValue {
        guard case let .global(module, name) = callable else {
            throw reader.fail(at, "REDUCE of a \(callable.typeName), not a global")
        }
        guard case let .tuple(a) = args else { throw reader.fail(at, "\(module).\(name) called with a \(args.typeName)") }
        switch (module, name) {
        case ("collections", "OrderedDict"), ("builtins", "dict"):
            guard a.isEmpty else { throw reader.fail(at, "\(module).\(name) with arguments is not supported") }
            return .dict(PickleDict())
        case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
            guard a.count >= 4, case let .storage(storage) = a[0] else {
                throw reader.fail(at, "\(name) needs (storage, offset, size, stride, ...)")
            }
            return .tensor(TorchTensorRecord(storage: storage,
                                             storageOffset: try intValue(a[1], "storage offset", at),
                                             shape: try ints(a[2], "size", at),
                                             strides: try ints(a[3], "stride", at)))
        case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
            guard let data = a.first, case .tensor = data else { throw reader.fail(at, "\(name) without a tensor") }
            return data
        default:
            throw reader.fail(at, "unsupported callable \(module).\(name) (only state_dicts of tensors can be read)")
        }
    }

    private func intValue(_ v: PickleValue, _ what: String, _ at: Int) throws -> Int {
        guard case let .int(i) = v, i >= 0, i <= Int64(Int32.max) * 64 else {
            throw reader.fail(at, "\(what) is not a valid non-negative integer (\(v.typeName))")
        }
        return Int(i)
    }

    private func ints(_ v: PickleValue, _ what: String, _ at: Int) throws -> [Int] {
        guard case let .tuple(items) = v else { throw reader.fail(at, "\(what) is a \(v.typeName), not a tuple") }
        return try items.map { try intValue($0, what, at) }
    }
}
