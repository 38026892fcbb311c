// Trains the Q2 CNN on Fashion-MNIST through graphc's libraries, as a program embedding graphc would.
// Usage: TrainCNN [fashion-mnist folder] [steps] [dev images]   (run from the repository root)
import Datasets
import Foundation
import Passes
import Runtime
import Training

let args = CommandLine.arguments
let dataFolder = args.count > 1 ? args[1] : FashionMNIST.defaultDirectory
let steps = args.count > 2 ? Int(args[2]) ?? 300 : 300
let devImages = args.count > 3 ? Int(args[3]) ?? 10_000 : 10_000

let model = try ModelLoading.load("graphs/cnn.swiftgraph")     // lowered for training
// Its train(...) settings, with momentum: plain SGD at lr 0.01 and batch 8 needs more than a few
// hundred steps to leave the loss's starting plateau.
let recipe = try Recipe(graph: model, overrides: RecipeOverrides(momentum: 0.9))
let (forward, training) = try Pipelines.compileForTraining(model, PassContext(options: recipe.passes))
let data = try FashionMNIST.load(directory: dataFolder)

let parameters = ParameterStore()
try parameters.initialise(from: forward, seed: recipe.seed)
let trainer = try Trainer(graph: training, parameters: parameters,
                          optimizer: recipe.makeOptimizer(learningRate: recipe.learningRates[0]),
                          options: ExecutionOptions(training: true, seed: recipe.seed))
var order = BatchOrder(count: data.train.count, batchSize: recipe.batchSize, seed: recipe.seed)
var lossSum = 0.0
for step in 0..<steps {
    let b = step % order.batchesPerEpoch
    if b == 0 { order.shuffle() }
    lossSum += Double(try trainer.step(feeds: Batches.feeds(data.train, order.batch(b))))
    if (step + 1) % 50 == 0 || step + 1 == steps {
        print("step \(step + 1): mean loss \(lossSum / Double(step % 50 + 1))")
        lossSum = 0
    }
}
let dev = try Evaluator(graph: forward).evaluate(data.dev.subset(Array(0..<min(devImages, data.dev.count))), parameters)
print("dev accuracy \(dev.accuracy) over \(min(devImages, data.dev.count)) images")
