import Datasets
import Distributed
import Foundation
import Frontend
import GraphIR
import Passes
import Runtime

/// The frozen image encoder of Q3 (graphs/resnet18.swiftgraph, or any model with an f32 input
/// `image` [B, 3, H, W] and one output [B, C, h, w]), compiled for inference, with its weights:
/// a PyTorch checkpoint (.pth, read by name), a safetensors file, or a seeded initialisation.
public final class FeatureEncoder {
    public let file: String
    public let graph: Graph
    public let store = ParameterStore()
    public let executor: Executor
    /// The input image size the graph was built for (height, width).
    public let imageSize: (height: Int, width: Int)
    /// Where the weights came from, in words, for the console and the report.
    public let provenance: String
    public let pretrained: Bool

    /// The kernel threads it runs with (its executor's pool).
    public var threads: Int { executor.pool.width }

    /// Compiles `file` for inference in `context` (its options; it keeps the pass statistics),
    /// for `threads` kernel threads (nil: every core, as training: `World.threadsPerProcess`).
    public init(file: String, weights: String?, seed: UInt64, threads: Int?, context: PassContext = PassContext()) throws {
        self.file = file
        // Without a pool its convolutions ran on one core: 0.095 s a 500x500 image against 0.052.
        let threads = threads ?? World.threadsPerProcess()
        var lowered = try ModelLoading.load(file, options: FrontendOptions(mode: .infer))
        if ModelLoading.isONNX(file) { lowered = try ONNXTask.namingImage(lowered, file: file, what: "an encoder") }
        graph = try TunedCompilation.inference(lowered, context, threads: threads)
        guard let image = graph.input(named: "image"), graph[image].type.dtype == .f32 else {
            throw RuntimeError("\(file): an encoder needs an f32 input named \"image\" shaped [batch, 3, height, width]")
        }
        let dims = graph[image].fedType.shape.dims.map(\.value)   // as fed (reduced-inputs)
        guard dims.count == 4, dims[1] == 3, let h = dims[2], let w = dims[3] else {
            throw RuntimeError("\(file): input \"image\" is \(graph[image].fedType); an encoder takes [batch, 3, height, width] with known height and width")
        }
        imageSize = (h, w)
        guard graph.outputs.count == 1 else { throw RuntimeError("\(file): an encoder has exactly one output (the feature map)") }
        if weights == nil, ModelLoading.isONNX(file) {
            try ModelLoading.initialise(store, for: graph, file: file, seed: seed)
            provenance = "the model's initializers"
            pretrained = true
        } else if let w = weights {
            if w.hasSuffix(".safetensors") || ModelLoading.isONNX(w) {
                try ModelLoading.loadWeights(w, into: store, for: graph)
            } else {
                try FeatureEncoder.loadTorch(w, into: store, for: graph)
            }
            provenance = "weights from \(w)"
            pretrained = true
        } else {
            try FeatureEncoder.seededInitialisation(graph, store: store, seed: seed)
            provenance = "seeded initialisation (seed \(seed); torchvision's init: kaiming-normal fan-out convs, BatchNorm weight 1, bias 0, running mean 0, var 1), NOT pretrained ImageNet weights"
            pretrained = false
        }
        if let w = weights { try NumericsReport.checkWeights(store, for: graph, source: w) }
        executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: threads))
    }

    /// torchvision's ResNet initialisation: every conv weight (rank 4) ~ N(0, 2 / (out * kh * kw))
    /// (kaiming_normal_, mode fan_out, relu); everything else keeps the graph's own init, which for
    /// BatchNorm is already weight 1, bias 0, running mean 0, running var 1.
    static func seededInitialisation(_ graph: Graph, store: ParameterStore, seed: UInt64) throws {
        try store.initialise(from: graph, seed: seed)
        let random = RandomSource(seed: seed &+ 0x9E37_79B9)
        for name in store.names {
            guard let t = store.get(name), t.shape.count == 4, t.dtype == .f32 else { continue }
            let std = Float((2.0 / Double(t.shape[0] * t.shape[2] * t.shape[3])).squareRoot())
            store.update(name) { values in
                for i in values.indices { values[i] = std * random.nextNormal() }
            }
        }
    }

    /// A PyTorch state_dict (zip or legacy pickle) read without Python; tensors the graph does
    /// not use (fc.*, num_batches_tracked) are ignored, every graph parameter must be present.
    static func loadTorch(_ path: String, into store: ParameterStore, for graph: Graph) throws {
        let checkpoint = try TorchCheckpoint.load(path: path)
        for v in graph.parameters {
            let node = graph[v]
            guard let name = node.name else { continue }
            guard let t = checkpoint[name] else {
                throw RuntimeError("\(path): no tensor named '\(name)' (\(node.type)); the checkpoint has \(checkpoint.names.count) tensors, e.g. \(checkpoint.names.prefix(3).joined(separator: ", "))")
            }
            guard let shape = node.type.shape.resolved([:]), t.shape == shape else {
                throw RuntimeError("\(path): '\(name)' has shape \(t.shape) but the graph declares \(node.type)")
            }
            guard node.type.dtype == .f32 else { throw RuntimeError("\(path): '\(name)': the graph declares \(node.type), only f32 parameters load from .pth") }
            store.set(name, HostTensor(shape: shape, floats: try t.floats()))
        }
    }

    /// One image's features, region-major: [h * w, C] from the graph's [1, C, h, w], as the
    /// homework's `features.view(C, -1).permute(1, 0)`.
    public func regions(image chw: [Float]) throws -> (values: [Float], regions: Int, dim: Int) {
        let input = HostTensor(shape: [1, 3, imageSize.height, imageSize.width], floats: chw)
        let out = try executor.run(feeds: ["image": input], parameters: store)
        guard let name = graph.outputs.first?.name, let map = out[name], map.shape.count == 4, map.shape[0] == 1 else {
            throw RuntimeError("\(file): the encoder's output is not a [1, C, h, w] feature map")
        }
        let c = map.shape[1], hw = map.shape[2] * map.shape[3]
        let src = map.floats
        // NaN features would poison every caption model trained on them: an error instead.
        if src.contains(where: { !$0.isFinite }) {
            throw try NumericsReport.explainOutput(executor, feeds: ["image": input], store: store, what: "encoding an image", modelFile: file)
        }
        var dst = [Float](repeating: 0, count: c * hw)
        for ch in 0..<c {
            for r in 0..<hw { dst[r * c + ch] = src[ch * hw + r] }
        }
        return (dst, hw, c)
    }

    /// Reads, checks and normalises one TIFF, then encodes it.
    public func encode(path: String) throws -> (values: [Float], regions: Int, dim: Int) {
        let image = try TiffImage.readNormalizedCHW(path: path)
        guard image.height == imageSize.height, image.width == imageSize.width else {
            throw FileError(path, "the image is \(image.width)x\(image.height) but the encoder (\(file)) takes \(imageSize.width)x\(imageSize.height)")
        }
        return try regions(image: image.values)
    }
}
