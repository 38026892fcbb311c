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
        var correct = 0
        var lossSum = 0.0
        var start = 0
        while start < split.count {
            let end = min(split.count, start + batchSize)
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
        return (Double(correct) / Double(max(split.count, 1)), lossSum / Double(max(split.count, 1)))
    }
}
