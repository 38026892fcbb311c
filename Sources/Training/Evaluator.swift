import Datasets
import GraphIR
import Runtime

/// Accuracy and mean loss of the forward graph over a whole split, dropout off.
public final class Evaluator {
    public let executor: Executor
    public let output: String
    /// Examples per run of the forward graph (what its convolutions are tuned for).
    public static let batchSize = 1024
    public var batchSize: Int { Evaluator.batchSize }
    /// The model file, so a non-finite output is reported with its source line.
    public var modelFile = ""
    /// The forward graph compiled without fusion, for finding the op (one op per node, each
    /// with its own source line) that made a non-finite output; nil uses `executor`'s graph.
    public var unfusedGraph: (() throws -> Graph)?

    public init(graph: Graph, threads: Int? = nil, profile: Bool = false) throws {
        executor = try Executor(graph: graph, options: ExecutionOptions(training: false, threads: threads), planner: BufferPlan.lifetimes)
        output = graph.outputs[0].name
        executor.measuresTime = profile
    }

    public func evaluate(_ split: ImageClassificationSplit, _ store: ParameterStore) throws -> (accuracy: Double, loss: Double) {
        let t = try totals(split, store)
        return (Double(t.correct) / Double(max(split.count, 1)), t.lossSum / Double(max(split.count, 1)))
    }

    /// Correct predictions and the summed loss over the examples `range` of a split (all by
    /// default): a data-parallel job sums these over its ranks.
    public func totals(_ split: ImageClassificationSplit, _ store: ParameterStore, range: Range<Int>? = nil) throws -> (correct: Int, lossSum: Double) {
        var correct = 0
        var lossSum = 0.0
        let range = range ?? 0..<split.count
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(range.upperBound, start + batchSize)
            let feeds = Batches.feeds(split, start..<end)
            let out = try executor.run(feeds: feeds, parameters: store)
            guard let scores = out[output], scores.shape.count == 2 else { throw RuntimeError("the model's output is not [batch, classes]") }
            let classes = scores.shape[1]
            let s = scores.floats
            for row in 0..<(end - start) {
                var bestClass = 0
                for c in 1..<classes where s[row * classes + c] > s[row * classes + bestClass] { bestClass = c }
                if Int64(bestClass) == split.labels[start + row] { correct += 1 }
            }
            let loss = out["loss"]?.scalar ?? 0
            // A NaN score or loss is an error, located at the op that made it, not `loss nan`.
            if !loss.isFinite || s.contains(where: { !$0.isFinite }) {
                let explainer = try unfusedGraph.map { try Executor(graph: $0(), options: ExecutionOptions(threads: 1)) } ?? executor
                throw try NumericsReport.explainOutput(explainer, feeds: feeds, store: store,
                                                       what: "evaluating examples \(start)..<\(end)", modelFile: modelFile)
            }
            lossSum += Double(loss) * Double(end - start)
            start = end
        }
        return (correct, lossSum)
    }
}
