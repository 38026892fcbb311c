import Datasets
import Foundation
import GraphIR
import Runtime

/// Greedy decoding with a caption model's inference graph (inputs `features` [B, regions, dim]
/// and `start` [B]; outputs `words` [B, maxLen] and, with attention, `alphas` [B, maxLen,
/// regions]), one image at a time as the homework does, reading the training store's weights.
public final class CaptionDecoder {
    public let graph: Graph
    public let executor: Executor
    public let vocabulary: Vocabulary
    /// Set for `--beam N` with N > 1: captions come from beam search instead.
    public var beam: BeamDecoder?
    public var hasAttention: Bool { graph.outputs.contains { $0.name == "alphas" } }

    public struct Caption {
        public var tokens: [String]
        /// One attention map per generated token (and none for `<end_seq>`), when the model has them.
        public var alphas: [[Float]]?

        public init(tokens: [String], alphas: [[Float]]?) {
            self.tokens = tokens
            self.alphas = alphas
        }
    }

    public init(graph: Graph, file: String, vocabulary: Vocabulary, threads: Int?) throws {
        guard let f = graph.input(named: "features"), graph[f].fedType.dtype == .f32, graph[f].fedType.shape.rank == 3 else {
            throw RuntimeError("\(file): in infer mode a caption model needs an f32 input \"features\" [batch, regions, dim]")
        }
        guard let s = graph.input(named: "start"), graph[s].type.dtype == .i64, graph[s].type.shape.rank == 1 else {
            throw RuntimeError("\(file): in infer mode a caption model needs an int64 input \"start\" [batch] (the <start_seq> ids)")
        }
        guard graph.outputs.contains(where: { $0.name == "words" }) else {
            throw RuntimeError("\(file): in infer mode a caption model needs an output \"words\" [batch, maxLen]")
        }
        self.graph = graph
        self.vocabulary = vocabulary
        executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: threads))
    }

    /// The caption of one image (`features` [1, regions, dim]): the generated tokens up to, not
    /// including, the first `<end_seq>`, at most maxLen of them (greedy unless `beam` is set).
    public func decode(_ features: HostTensor, parameters: ParameterStore) throws -> Caption {
        if let b = beam { return try b.decode(features, parameters: parameters) }
        let out = try executor.run(feeds: ["features": features, "start": HostTensor(shape: [1], ints: [Int64(vocabulary.start)])],
                                   parameters: parameters)
        guard let words = out["words"], words.shape.count == 2, words.shape[0] == 1 else {
            throw RuntimeError("the model's \"words\" output is not [1, maxLen]")
        }
        var tokens: [String] = []
        for id in words.ints {
            if id == Int64(vocabulary.end) { break }
            tokens.append(id >= 0 && id < Int64(vocabulary.size) ? vocabulary.idToToken[Int(id)] : Vocabulary.unkToken)
        }
        var maps: [[Float]]?
        if let a = out["alphas"], a.shape.count == 3, a.shape[0] == 1 {
            let steps = a.shape[1], regions = a.shape[2], values = a.floats
            maps = (0..<min(tokens.count, steps)).map { t in Array(values[(t * regions)..<((t + 1) * regions)]) }
        }
        return Caption(tokens: tokens, alphas: maps)
    }

    /// Greedy captions of `names` in order.
    public func captions(_ names: [String], features: CaptioningFeatures, parameters: ParameterStore) throws -> [[String]] {
        try names.map { try decode(try features.batch([$0]), parameters: parameters).tokens }
    }
}
