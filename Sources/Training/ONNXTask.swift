import Foundation
import Frontend
import GraphIR
import ONNX
import Runtime

/// What an ONNX model, which carries no `train(on:)` declaration, is trained or scored on: the
/// command line's `--dataset`, `--label` and `--loss`. A Fashion-MNIST classifier exported from
/// PyTorch (input the image, first output class scores or log-probabilities) becomes a graph
/// as `graphs/cnn.swiftgraph` lowers to: an f32 input `image`, an i64 input `label`, the
/// log-probabilities as first output, and the mean NLL loss.
public struct ONNXTask: Sendable, Equatable {
    /// The data set, as `train(on:)` names them (`fashionMNIST`); nil: the model is only run.
    public var dataset: String?
    /// The name the added class-label input takes.
    public var label: String
    /// `nll` (the first output is log-probabilities), `cross-entropy` (it is scores, which
    /// get a log-softmax); nil: `nll` when a LogSoftmax makes the output, else `cross-entropy`.
    public var loss: String?

    public static let losses = ["nll", "cross-entropy"]

    public init(dataset: String? = nil, label: String = "label", loss: String? = nil) {
        self.dataset = dataset; self.label = label; self.loss = loss
    }

    /// `--dataset` values: train(on:)'s names, and `fashion-mnist` as the data set is spelled elsewhere.
    public static func datasetName(_ flag: String) -> String? {
        switch flag.lowercased() {
        case "fashion-mnist", "fashionmnist", "fashion_mnist": return "fashionMNIST"
        default: return nil
        }
    }

    /// The imported graph made trainable and scorable for `dataset`: its only f32 input
    /// renamed `image`, a `label` input, the log-probabilities as first output and the loss.
    public func classifier(_ model: Graph, file: String) throws -> Graph {
        guard let dataset else { return model }
        guard model.loss == nil else { return model }
        let g = try ONNXTask.namingImage(model, file: file, what: "a classifier")
        guard g.input(named: label) == nil else { throw RuntimeError("\(file): the model already has an input named \"\(label)\"; choose another with --label") }
        guard let scores = g.outputs.first else { throw RuntimeError("\(file): the model has no output") }
        let b = GraphBuilder(copying: g)
        let shape = g.type(of: scores.value).shape
        guard shape.rank == 2 else { throw RuntimeError("\(file): output \"\(scores.name)\" is \(g.type(of: scores.value)); a classifier's is [batch, classes]") }
        b.location = SourceLocation(file: file, line: 0, column: 0)
        let labels = b.input(label, .i64(Shape([shape[0]])))
        let kind = loss ?? (g[scores.value].op == .logSoftmax ? "nll" : "cross-entropy")
        guard ONNXTask.losses.contains(kind) else { throw RuntimeError("--loss must be nll or cross-entropy, got '\(kind)'") }
        let logProbabilities = kind == "nll" ? scores.value : try b.emit(.logSoftmax, [scores.value], ["axis": .int(1)])
        b.loss = try b.emit(.nllLoss, [logProbabilities, labels])
        b.outputs = [(scores.name, logProbabilities)] + g.outputs.dropFirst()
        b.metadata["dataset"] = .string(dataset)
        b.metadata["metric"] = .string("accuracy")
        return b.finish()
    }
}

extension ONNXTask {
    /// `g` with its one float input named `image`, as graphc's classifiers and encoders name it.
    public static func namingImage(_ g: Graph, file: String, what: String) throws -> Graph {
        let floats = g.inputs.filter { g[$0].type.dtype == .f32 }
        guard floats.count == 1, let image = floats.first else {
            throw RuntimeError("\(file): \(what) takes one float input (the image); this model has \(floats.count): \(floats.compactMap { g[$0].name })")
        }
        if g[image].name == "image" { return g }
        let b = GraphBuilder(name: g.name)
        for (i, node) in g.nodes.enumerated() {
            var n = node
            if i == image.id { n.attributes["name"] = .string("image") }
            b.append(n)
        }
        b.outputs = g.outputs
        b.loss = g.loss
        b.metadata = g.metadata
        return b.finish()
    }
}

extension ModelLoading {
    public static func isONNX(_ path: String) -> Bool { path.hasSuffix(".onnx") }

    /// An ONNX model's graph, in train mode with its Dropout, for `task`.
    static func loadONNX(_ path: String, options: FrontendOptions, task: ONNXTask) throws -> Graph {
        let model = try ONNXModel.load(path: path, options: ONNXModel.Options(training: options.mode == .train))
        return try task.classifier(model.graph, file: path)
    }

    /// Sets the weights of `graph`, made from `file`: an ONNX model's from its initializers,
    /// any other model's from its initialisers with `seed`.
    public static func initialise(_ store: ParameterStore, for graph: Graph, file: String, seed: UInt64) throws {
        guard isONNX(file) else { return try store.initialise(from: graph, seed: seed) }
        try ONNXModel.load(path: file).initialise(store, for: graph)
    }

    /// Loads `weights` for `graph`: a .safetensors checkpoint, or the initializers of an .onnx file.
    public static func loadWeights(_ weights: String, into store: ParameterStore, for graph: Graph) throws {
        if isONNX(weights) { return try ONNXModel.load(path: weights).initialise(store, for: graph) }
        try store.load(from: weights, for: graph)
    }
}
