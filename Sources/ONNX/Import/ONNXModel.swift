import Foundation
import GraphIR
import Runtime
import SwiftProtobuf

/// An ONNX model imported as a graphc graph with its weights:
///
///     let model = try ONNXModel.load(path: "resnet50.onnx")
///     model.graph                      // inputs, ops and outputs as graphc's IR
///     model.parameters["conv1.weight"] // each initializer, under its ONNX name
///
/// Initializers become parameters named as in the file (an initializer only read as a static
/// shape, such as Reshape's target, folds away instead); `Constant`, `Shape` and the shape
/// arithmetic on it are folded at import. Every node made from an ONNX node is located at it
/// (`ONNXNodeLocation`), and every error names the file and, where one is at fault, the node.
public struct ONNXModel {
    /// The oldest and newest versions of the default-domain operator set (`ai.onnx`) read:
    /// 28 is the opset of onnx 1.23.
    public static let minOpset = 9
    public static let maxOpset = 28

    public struct Options: Sendable {
        /// `.train` keeps Dropout (as graphc's dropout); `.infer` makes it the identity.
        public var training = false
        public init(training: Bool = false) { self.training = training }
    }

    public let file: String
    public let graph: Graph
    /// The initial value of every parameter of `graph`, by name.
    public let parameters: [String: HostTensor]
    /// The default domain's opset version the model imports.
    public let opset: Int
    public let producer: String

    /// Reads and imports the `.onnx` file at `path`; external data files are read from its folder.
    public static func load(path: String, options: Options = Options()) throws -> ONNXModel {
        let data = try ONNXFile.contents(path, what: "ONNX model")
        let folder = (path as NSString).deletingLastPathComponent
        return try load(data: data, file: path, folder: folder.isEmpty ? "." : folder, options: options)
    }

    /// Imports a serialized `ModelProto`; `file` names it in messages, `folder` holds its external data.
    public static func load(data: Data, file: String, folder: String, options: Options = Options()) throws -> ONNXModel {
        let proto: Onnx_ModelProto
        do {
            var decoding = BinaryDecodingOptions()
            decoding.messageDepthLimit = 64
            proto = try Onnx_ModelProto(serializedBytes: data, options: decoding)
        } catch {
            throw ONNXError(file: file, "not an ONNX model: protobuf decoding failed (\(error)); the file is truncated or not an .onnx file")
        }
        return try load(proto: proto, file: file, folder: folder, options: options)
    }

    /// Imports a decoded `ModelProto`.
    public static func load(proto: Onnx_ModelProto, file: String, folder: String, options: Options = Options()) throws -> ONNXModel {
        guard proto.hasGraph else { throw ONNXError(file: file, "not an ONNX model: it has no graph") }
        var opset: Int?
        for o in proto.opsetImport where o.domain.isEmpty || o.domain == "ai.onnx" { opset = Int(clamping: o.version) }
        guard let opset else {
            throw ONNXError(file: file, "the model imports no version of the default operator set (ai.onnx)")
        }
        guard (minOpset...maxOpset).contains(opset) else {
            throw ONNXError(file: file, "opset \(opset) is outside the supported range \(minOpset) to \(maxOpset)")
        }
        let importer = ONNXImporter(file: file, folder: folder, opset: opset, options: options)
        let (graph, parameters) = try importer.run(proto.graph)
        return ONNXModel(file: file, graph: graph, parameters: parameters, opset: opset, producer: proto.producerName)
    }

    /// Sets every parameter of `graph` (this model's, or one a pass made from it) from the
    /// model's initializers into `store`.
    public func initialise(_ store: ParameterStore, for graph: Graph? = nil) throws {
        let g = graph ?? self.graph
        for v in g.parameters {
            let name = g[v].name ?? ""
            guard let t = parameters[name] else {
                throw ONNXError(file: file, "parameter \"\(name)\" has no initializer in the model")
            }
            store.set(name, t)
        }
    }
}
