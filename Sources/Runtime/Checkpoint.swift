import Foundation
import GraphIR

/// Parameter stores saved as safetensors, readable by PyTorch (`safetensors.torch.load_file`)
/// and numpy users; names are the graph's parameter names, which follow PyTorch's state_dict.
extension ParameterStore {
    public func save(to path: String, metadata: [String: String]? = nil) throws {
        var entries: [SafeTensors.Entry] = []
        for name in names {
            guard let t = get(name) else { continue }
            switch t.storage {
            case .f32(let v): entries.append((name, "F32", t.shape, v.withUnsafeBytes { Data($0) }))
            case .i64(let v): entries.append((name, "I64", t.shape, v.withUnsafeBytes { Data($0) }))
            }
        }
        try SafeTensors.write(entries, metadata: metadata, to: path)
    }

    /// Loads every parameter `graph` declares from a safetensors file, checking names, dtypes
    /// and shapes; tensors the graph does not use are ignored.
    public func load(from path: String, for graph: Graph) throws {
        let tensors = try SafeTensors.read(path: path)
        for v in graph.parameters {
            let node = graph[v]
            guard let name = node.name else { continue }
            guard let t = tensors[name] else { throw RuntimeError("\(path): no tensor named '\(name)' (\(node.type))") }
            guard let shape = node.type.shape.resolved([:]), t.shape == shape else {
                throw RuntimeError("\(path): '\(name)' has shape \(t.shape) but the graph declares \(node.type)")
            }
            switch (node.type.dtype, t.dtype) {
            case (.f32, "F32"):
                set(name, HostTensor(shape: shape, floats: unalignedArray(t.data, of: Float.self)))
            case (.i64, "I64"):
                set(name, HostTensor(shape: shape, ints: unalignedArray(t.data, of: Int64.self)))
            default:
                throw RuntimeError("\(path): '\(name)' is \(t.dtype) but the graph declares \(node.type.dtype.rawValue)")
            }
        }
    }
}

/// Copies bytes into a typed array without assuming the bytes are aligned for the type.
func unalignedArray<T>(_ data: Data, of: T.Type) -> [T] {
    let n = data.count / MemoryLayout<T>.stride
    return [T](unsafeUninitializedCapacity: n) { buf, count in
        data.withUnsafeBytes { raw in
            if let base = raw.baseAddress, let dst = buf.baseAddress, n > 0 { memcpy(dst, base, n * MemoryLayout<T>.stride) }
        }
        count = n
    }
}
