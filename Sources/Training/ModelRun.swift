import Datasets
import Distributed
import Foundation
import Frontend
import GraphIR
import Passes
import Runtime

/// A model compiled for inference with its weights, run once on named inputs, as
/// `graphc MODEL --run` does (and `tract model run` or a PyTorch forward call):
///
///     let model = try ModelRun(file: "graphs/q1_attention.swiftgraph")
///     let outputs = try model.run(["X": HostTensor(shape: [6, 8], floats: x)])
///     outputs.first { $0.name == "P1" }?.value
///
/// Inputs are checked by name, dtype and shape before anything runs (`feeds(from:)` checks
/// arrays read from .npy/.npz files the same way and says which file a bad one came from).
public final class ModelRun {
    public struct Output {
        public var name: String
        public var value: HostTensor
        public init(name: String, value: HostTensor) { self.name = name; self.value = value }
    }

    public let file: String
    /// The inference graph (`mode == .infer`) after `Pipelines.inference`.
    public let graph: Graph
    public let parameters = ParameterStore()
    /// Where the weights came from, in words.
    public let weightsProvenance: String
    /// The seed of the weights' initialisation (without `weights`) and, plus one, of random inputs.
    public let seed: UInt64
    private let executor: Executor
    /// The kernel threads it runs with (its executor's pool).
    public var threads: Int { executor.pool.width }

    /// Compiles `file`'s inference graph and loads `weights` (.safetensors as graphc saves
    /// them, or a PyTorch .pth state_dict), or initialises every parameter from the model's own
    /// initialisers with `seed` (default: the seed of the model's `train(...)`, else 0). The
    /// graph is compiled in `context` (its options; it keeps the pass statistics), for
    /// `threads` kernel threads (nil: every core, as training: `World.threadsPerProcess`).
    public init(file: String, weights: String? = nil, seed: UInt64? = nil, threads: Int? = nil, context: PassContext = PassContext()) throws {
        self.file = file
        let threads = threads ?? World.threadsPerProcess()
        graph = try TunedCompilation.inference(try ModelLoading.load(file, options: FrontendOptions(mode: .infer)), context, threads: threads)
        self.seed = seed ?? UInt64(max(0, graph.metadata.int("seed") ?? 0))
        if let w = weights {
            if w.hasSuffix(".pth") || w.hasSuffix(".pt") {
                try FeatureEncoder.loadTorch(w, into: parameters, for: graph)
            } else if w.hasSuffix(".safetensors") || ModelLoading.isONNX(w) {
                try ModelLoading.loadWeights(w, into: parameters, for: graph)
            } else {
                throw RuntimeError("--weights \(w): give a .safetensors file (as graphc --train saves) or a PyTorch .pth state_dict")
            }
            try NumericsReport.checkWeights(parameters, for: graph, source: w)
            weightsProvenance = "weights from \(w)"
        } else {
            try ModelLoading.initialise(parameters, for: graph, file: file, seed: self.seed)
            weightsProvenance = graph.parameters.isEmpty ? "no parameters"
                : ModelLoading.isONNX(file) ? "the model's initializers" : "seeded initialisation (seed \(self.seed)), not trained weights"
        }
        executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: threads), planner: BufferPlan.lifetimes)
    }

    /// The declared inputs, in graph order.
    public var inputs: [(name: String, type: TensorType)] {
        graph.inputs.map { (graph[$0].name ?? "%\($0.id)", graph[$0].fedType) }
    }

    /// The names `run` returns: the declared outputs in order, then "loss" when there is one.
    public var outputNames: [String] {
        graph.outputs.map(\.name) + (graph.loss != nil && graph.output(named: "loss") == nil ? ["loss"] : [])
    }

    /// Runs the graph once on `feeds`, which must hold every declared input and nothing else,
    /// each with the declared dtype and shape (a symbol such as the batch takes the same size
    /// in every input); returns every output by name, in `outputNames` order.
    public func run(_ feeds: [String: HostTensor]) throws -> [Output] {
        try checkNames(Set(feeds.keys), sources: [:])
        var shapes = ShapeBinding(model: file)
        for (name, type) in inputs {
            guard let t = feeds[name] else { continue }
            guard t.storedCount == t.count else {
                throw RuntimeError("input '\(name)' has shape \(t.shape) (\(t.count) elements) but holds \(t.storedCount) values")
            }
            try shapes.check(input: name, source: nil, dtype: t.dtype.rawValue, dtypeMatches: t.dtype == type.dtype, shape: t.shape, declared: type)
        }
        let results = try executor.run(feeds: feeds, parameters: parameters)
        return outputNames.compactMap { name in results[name].map { Output(name: name, value: $0) } }
    }

    /// Refuses a name the model does not take, and a declared input that is absent (unless
    /// `allowMissing`); `sources` names where each given array came from.
    func checkNames(_ given: Set<String>, sources: [String: String], allowMissing: Bool = false) throws {
        let declared = inputs
        let list = declared.map { "\($0.name) \($0.type)" }.joined(separator: ", ")
        for name in given.sorted() where !declared.contains(where: { $0.name == name }) {
            let from = sources[name].map { " (from \($0))" } ?? ""
            throw RuntimeError("'\(name)'\(from) is not an input of \(file); its inputs are: \(list.isEmpty ? "none" : list)")
        }
        guard !allowMissing else { return }
        for (name, type) in declared where !given.contains(name) {
            throw RuntimeError("missing input '\(name)' (\(type)); the inputs of \(file) are: \(list)")
        }
    }
}

/// Checks given shapes against declared ones, binding each symbol (the batch `B`) to the first
/// size given for it; every message names the input, its source and both shapes.
struct ShapeBinding {
    let model: String
    var sizes: [String: Int] = [:]
    var boundBy: [String: String] = [:]

    init(model: String) { self.model = model }

    mutating func check(input name: String, source: String?, dtype: String, dtypeMatches: Bool, shape: [Int], declared: TensorType) throws {
        let what = "input '\(name)'" + (source.map { " from \($0)" } ?? "")
        let given = NPYWriter.pythonTuple(shape)
        guard dtypeMatches else {
            let cast = declared.dtype == .f32 ? "float32 (numpy: x.astype(np.float32))" : "int64 (numpy: x.astype(np.int64))"
            throw RuntimeError("\(what) is \(dtype)\(given) but \(model) declares \(declared); save it as \(cast)")
        }
        guard shape.count == declared.rank else {
            throw RuntimeError("\(what) has shape \(given) but \(model) declares \(declared) (rank \(declared.rank), not \(shape.count))")
        }
        for (i, d) in declared.shape.dims.enumerated() {
            switch d {
            case .known(let n):
                guard shape[i] == n else {
                    throw RuntimeError("\(what) has shape \(given) but \(model) declares \(declared): dimension \(i) must be \(n), not \(shape[i])")
                }
            case .symbol(let s):
                guard shape[i] >= 1 else {
                    throw RuntimeError("\(what) has shape \(given): dimension \(i) (\(s)) must be at least 1")
                }
                if let prior = sizes[s], prior != shape[i] {
                    throw RuntimeError("\(what) has shape \(given), making \(s) = \(shape[i]), but input '\(boundBy[s] ?? "?")' made \(s) = \(prior) (\(model) declares \(declared))")
                }
                sizes[s] = shape[i]
                boundBy[s] = boundBy[s] ?? name
            }
        }
    }
}
