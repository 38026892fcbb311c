import Datasets
import GraphIR
import Runtime

/// Feeds for one batch of a classification split.
public enum Batches {
    public static func feeds<C: Collection>(_ split: ImageClassificationSplit, _ indices: C) -> [String: HostTensor] where C.Element == Int {
        let size = split.imageSize
        var images = [Float](repeating: 0, count: indices.count * size)
        var labels = [Int64](repeating: 0, count: indices.count)
        split.images.withUnsafeBufferPointer { src in
            images.withUnsafeMutableBufferPointer { dst in
                guard let from = src.baseAddress, let to = dst.baseAddress else { return }
                for (row, i) in indices.enumerated() {
                    to.advanced(by: row * size).update(from: from.advanced(by: i * size), count: size)
                    labels[row] = split.labels[i]
                }
            }
        }
        return ["image": HostTensor(shape: [indices.count] + split.imageShape, floats: images),
                "label": HostTensor(shape: [indices.count], ints: labels)]
    }
}


/// The order a training loop visits examples in: batches of `batchSize` consecutive positions
/// of a permutation that `shuffle` redraws (Fisher-Yates, seeded) at the start of each epoch;
/// the last batch of an epoch may be short.
public struct BatchOrder {
    public let batchSize: Int
    public private(set) var order: [Int]
    private let shuffler: RandomSource

    /// The shuffle's generator is seeded with `seed + 1`, apart from the weights' `seed`.
    public init(count: Int, batchSize: Int, seed: UInt64) {
        self.batchSize = max(1, batchSize)
        order = Array(0..<count)
        shuffler = RandomSource(seed: seed &+ 1)
    }

    public var batchesPerEpoch: Int { (order.count + batchSize - 1) / batchSize }

    public mutating func shuffle() {
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, shuffler.nextInt(below: i + 1)) }
    }

    /// The example indices of batch `b` of the epoch.
    public func batch(_ b: Int) -> ArraySlice<Int> {
        order[(b * batchSize)..<min(order.count, (b + 1) * batchSize)]
    }
}
