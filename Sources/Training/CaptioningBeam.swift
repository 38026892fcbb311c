import Datasets
import Foundation
import Frontend
import GraphIR
import Passes
import Runtime

/// Beam search (`--beam N`) as a host loop over a model's single-step graph
/// (`<model>_step.swiftgraph`: inputs `features`, `word`, `h`, `c`; outputs `h0`, `c0` from the
/// features, `logProbs` [B, vocab], the new `h`, `c`, and `alpha` with attention). The live
/// beams run as one batch; a beam that emits `<end_seq>` is complete and the beam narrows, as in
/// Show, Attend and Tell's reference code; the best complete caption by summed log-probability
/// wins. Width 1 is greedy decoding.
public final class BeamDecoder {
    public let file: String
    public let width: Int
    public let vocabulary: Vocabulary
    public let executor: Executor
    public let graph: Graph

    /// The step graph beside a model file: graphs/caption_lstm.swiftgraph -> caption_lstm_step.swiftgraph.
    public static func stepFile(for model: String) -> String {
        let ns = model as NSString
        return (ns.deletingLastPathComponent as NSString).appendingPathComponent((ns.lastPathComponent as NSString).deletingPathExtension + "_step.swiftgraph")
    }

    /// Compiles the step graph `file` in `context` (its options; it keeps the pass statistics).
    public init(file: String, width: Int, vocabulary: Vocabulary, threads: Int?, context: PassContext = PassContext()) throws {
        // Each step keeps the best `width` of beams x vocabulary candidates: wider than the
        // vocabulary, the beams multiply by the vocabulary every step.
        guard width >= 1, width <= vocabulary.size else {
            throw RuntimeError("--beam \(width): the beam width must be between 1 and the vocabulary's \(vocabulary.size) words")
        }
        guard FileManager.default.fileExists(atPath: file) else {
            throw RuntimeError("--beam needs the model's single-step graph \(file) (inputs features, word, h, c; outputs h0, c0, logProbs, h, c)")
        }
        graph = try TunedCompilation.inference(try ModelLoading.load(file, options: FrontendOptions(mode: .infer)), context, threads: threads)
        for name in ["features", "word", "h", "c"] where graph.input(named: name) == nil {
            throw RuntimeError("\(file): a step graph for beam search needs an input \"\(name)\"")
        }
        let outputs = Set(graph.outputs.map(\.name))
        for name in ["h0", "c0", "logProbs", "h", "c"] where !outputs.contains(name) {
            throw RuntimeError("\(file): a step graph for beam search needs an output \"\(name)\"")
        }
        self.file = file
        self.width = width
        self.vocabulary = vocabulary
        executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: threads))
    }

    /// Every step-graph weight must be one the caption model trains.
    public func checkParameters(_ store: ParameterStore, model: String) throws {
        for v in graph.parameters {
            guard let name = graph[v].name, let t = store.get(name) else {
                throw RuntimeError("\(file): parameter '\(graph[v].name ?? "?")' is not a weight of \(model)")
            }
            guard graph[v].type.shape.resolved([:]) == t.shape else {
                throw RuntimeError("\(file): parameter '\(name)' is \(graph[v].type) but \(model) has shape \(t.shape)")
            }
        }
    }

    private struct Beam {
        var words: [Int]
        var score: Double
        var h: ArraySlice<Float>
        var c: ArraySlice<Float>
        var alphas: [[Float]]
    }

    private func run(_ features: HostTensor, beams: [Beam], words: [Int], hidden: Int, _ store: ParameterStore) throws -> [String: HostTensor] {
        let n = beams.count
        let one = features.floats
        var repeated = [Float]()
        repeated.reserveCapacity(one.count * n)
        for _ in 0..<n { repeated.append(contentsOf: one) }
        var h = [Float](), c = [Float]()
        for b in beams { h.append(contentsOf: b.h); c.append(contentsOf: b.c) }
        let shape = features.shape
        return try executor.run(feeds: ["features": HostTensor(shape: [n] + shape.dropFirst(), floats: repeated),
                                        "word": HostTensor(shape: [n], ints: words.map(Int64.init)),
                                        "h": HostTensor(shape: [n, hidden], floats: h),
                                        "c": HostTensor(shape: [n, hidden], floats: c)], parameters: store)
    }

    /// The best caption of one image (`features` [1, regions, dim]).
    public func decode(_ features: HostTensor, parameters store: ParameterStore) throws -> CaptionDecoder.Caption {
        guard let hInput = graph.input(named: "h"), let hidden = graph[hInput].type.shape.dims.last?.value else {
            throw RuntimeError("\(file): input \"h\" must be [batch, hidden] with a known hidden size")
        }
        let zeros = ArraySlice([Float](repeating: 0, count: hidden))
        let first = try run(features, beams: [Beam(words: [], score: 0, h: zeros, c: zeros, alphas: [])], words: [vocabulary.start], hidden: hidden, store)
        guard let h0 = first["h0"]?.floats, let c0 = first["c0"]?.floats, h0.count == hidden, c0.count == hidden else {
            throw RuntimeError("\(file): outputs \"h0\" and \"c0\" must be [batch, \(hidden)]")
        }
        var live = [Beam(words: [vocabulary.start], score: 0, h: h0[...], c: c0[...], alphas: [])]
        var complete: [Beam] = []
        for _ in 0..<vocabulary.maxLen {
            guard !live.isEmpty else { break }
            let out = try run(features, beams: live, words: live.map { $0.words.last ?? vocabulary.start }, hidden: hidden, store)
            guard let logp = out["logProbs"], logp.shape == [live.count, vocabulary.size],
                  let h = out["h"]?.floats, let c = out["c"]?.floats, h.count == live.count * hidden, c.count == h.count else {
                throw RuntimeError("\(file): output \"logProbs\" must be [batch, \(vocabulary.size)] and \"h\", \"c\" [batch, \(hidden)]")
            }
            let alpha = out["alpha"]
            let lp = logp.floats, v = vocabulary.size
            // Candidates by score, ties to the lower (beam, word) index as argmax breaks them.
            var candidates = Array(0..<(live.count * v))
            candidates.sort { a, b in
                let sa = live[a / v].score + Double(lp[a]), sb = live[b / v].score + Double(lp[b])
                return sa != sb ? sa > sb : a < b
            }
            var next: [Beam] = []
            for k in candidates.prefix(width - complete.count) {
                let b = k / v, word = k % v
                var beam = live[b]
                beam.score += Double(lp[k])
                if let a = alpha, a.shape.count == 2, a.shape[0] == live.count {
                    let r = a.shape[1]
                    beam.alphas.append(Array(a.floats[(b * r)..<((b + 1) * r)]))
                }
                if word == vocabulary.end {
                    complete.append(beam)
                } else {
                    beam.words.append(word)
                    beam.h = h[(b * hidden)..<((b + 1) * hidden)]
                    beam.c = c[(b * hidden)..<((b + 1) * hidden)]
                    next.append(beam)
                }
            }
            live = next
        }
        // Beams still running after maxLen steps compete with the complete ones.
        let pool = complete + live
        guard let best = pool.indices.max(by: { pool[$0].score < pool[$1].score || (pool[$0].score == pool[$1].score && $0 > $1) }) else {
            return CaptionDecoder.Caption(tokens: [], alphas: nil)
        }
        let ids = pool[best].words.dropFirst()
        let tokens = ids.map { $0 >= 0 && $0 < vocabulary.size ? vocabulary.idToToken[$0] : Vocabulary.unkToken }
        return CaptionDecoder.Caption(tokens: tokens, alphas: graph.outputs.contains { $0.name == "alpha" } ? Array(pool[best].alphas.prefix(tokens.count)) : nil)
    }
}
