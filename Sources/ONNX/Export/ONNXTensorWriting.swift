import Foundation
import GraphIR
import Runtime

/// graphc tensors as ONNX `TensorProto`s: the element type, the dimensions and the values as
/// `raw_data` (little-endian, as the format requires on every platform).
public enum ONNXTensorWriting {
    /// `TensorProto.DataType` codes of the element types graphc has.
    public static func dataType(_ dtype: DType) -> Int32 {
        switch dtype {
        case .f32: return Int32(Onnx_TensorProto.DataType.float.rawValue)
        case .i64: return Int32(Onnx_TensorProto.DataType.int64.rawValue)
        }
    }

    /// `tensor` named `name`. Its shape must hold as many elements as it stores.
    public static func proto(_ tensor: HostTensor, name: String) throws -> Onnx_TensorProto {
        guard tensor.shape.allSatisfy({ $0 >= 0 }), tensor.storedCount == tensor.count else {
            throw RuntimeError("tensor '\(name)' has shape \(tensor.shape) but holds \(tensor.storedCount) values")
        }
        var p = Onnx_TensorProto()
        p.name = name
        p.dims = tensor.shape.map(Int64.init)
        p.dataType = dataType(tensor.dtype)
        switch tensor.storage {
        case .f32(let v): p.rawData = littleEndianBytes(v.map(\.bitPattern))
        case .i64(let v): p.rawData = littleEndianBytes(v)
        }
        return p
    }

    /// A 1-D i64 tensor (shapes, axes, starts and ends of ONNX ops).
    public static func int64s(_ values: [Int64], name: String) -> Onnx_TensorProto {
        var p = Onnx_TensorProto()
        p.name = name
        p.dims = [Int64(values.count)]
        p.dataType = dataType(.i64)
        p.rawData = littleEndianBytes(values)
        return p
    }

    /// An f32 tensor of the given shape holding `values`.
    public static func floats(_ values: [Float], shape: [Int], name: String = "") -> Onnx_TensorProto {
        var p = Onnx_TensorProto()
        if !name.isEmpty { p.name = name }
        p.dims = shape.map(Int64.init)
        p.dataType = dataType(.f32)
        p.rawData = littleEndianBytes(values.map(\.bitPattern))
        return p
    }

    static func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> Data {
        var data = Data(count: values.count * MemoryLayout<T>.size)
        data.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() { raw.storeBytes(of: v.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self) }
        }
        return data
    }
}
