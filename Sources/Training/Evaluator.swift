import Datasets
import GraphIR
import Runtime

/// Accuracy and mean loss of the forward graph over a whole split, dropout off.
public final class Evaluator {
    public let executor: Executor
    public let output: String
    public let batchSize = 1024

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
            let out = try executor.run(feeds: Batches.feeds(split, start..<end), parameters: store)
            guard let scores = out[output], scores.shape.count == 2 else { throw RuntimeError("the model's output is not [batch, classes]") }
            let classes = scores.shape[1]
            let s = scores.floats
            for row in 0..<(end - start) {
                var bestClass = 0
                for c in 1..<classes where s[row * classes + c] > s[row * classes + bestClass] { bestClass = c }
                if Int64(bestClass) == split.labels[start + row] { correct += 1 }
            }
            lossSum += Double(out["loss"]?.scalar ?? .nan) * Double(end - start)
            start = end
        }
        return (correct, lossSum)
    }
}
