import GraphIR

/// An input taken reduced (`FeedReduction`, made by the `reduced-inputs` pass) at one run's
/// shapes: the caller feeds `fedShape`, the graph holds `shape`. The executor reduces a fed
/// tensor with `reduce(_:into:pool:)`; a `FeedWriter` that reduces while it writes calls
/// `reduce(items:into:pool:)`. Both run the mean and sum kernels' own loops, so the graph gets
/// the bits the reduction node would have computed, at any thread count.
public struct ReducedFeed {
    public let reduction: FeedReduction
    public let fedShape: [Int]
    public let shape: [Int]
    /// Scratch for a gather the kernels' loops cannot read in place (the executor's workspace).
    let scratch: Workspace

    /// The batch's items: `fedShape[0]`, each reduced on its own (axis 0 is never reduced).
    public var items: Int { fedShape.first ?? 1 }
    /// Elements of one item as fed (`fedShape` without axis 0).
    public var itemCount: Int { fedShape.dropFirst().reduce(1, *) }

    /// Elements of one item as reduced (`shape` without axis 0).
    public var reducedItemCount: Int { shape.dropFirst().reduce(1, *) }

    /// The same reduction of a batch of `items` items (a few of this batch's, reduced apart:
    /// each item's values do not depend on the others', so a caller may keep an item's
    /// reduction and reuse it in later batches).
    public func batch(of items: Int) -> ReducedFeed {
        ReducedFeed(reduction: reduction, fedShape: [items] + fedShape.dropFirst(), shape: [items] + shape.dropFirst(), scratch: scratch)
    }

    /// The fed tensor at `source` (`fedShape`, row-major) reduced into `destination` (`shape`).
    public func reduce(_ source: UnsafePointer<Float>, into destination: UnsafeMutableRawPointer, pool: WorkerPool) {
        reduceAxes(TensorView(data: UnsafeMutableRawPointer(mutating: source), shape: fedShape, dtype: .f32), axes: reduction.axes,
                   mean: reduction.mean, into: TensorView(data: destination, shape: shape, dtype: .f32), pool: pool)
    }

    /// The fed tensor whose item i (`itemCount` elements, laid out as `fedShape` without axis
    /// 0) is at `item(i)`, reduced into `destination`, with the same bits as `reduce` on the
    /// items laid one after another. When the reduced axes are a block before the last axis
    /// (a mean over regions) the items are read where they are, the work split over `pool`;
    /// otherwise they are gathered into scratch first.
    public func reduce(items item: (Int) -> UnsafePointer<Float>, into destination: UnsafeMutableRawPointer, pool: WorkerPool) {
        let mean = TensorView(data: destination, shape: shape, dtype: .f32)
        if let split = middleAxesSplit(fedShape, reduced: reduction.axes) {
            // Outer rows per item: the kept axes before the reduced block, axis 0 excepted.
            let perItem = max(split.outer / max(items, 1), 1), rowSize = split.reduced * split.inner
            sumMiddleAxes(rows: { o in item(o / perItem) + (o % perItem) * rowSize }, into: mean.f32, outer: split.outer,
                          reduced: split.reduced, inner: split.inner,
                          scale: reduction.mean ? meanScale(fedShape.reduce(1, *), into: mean.count) : nil, pool: pool)
            return
        }
        let n = itemCount, gathered = scratch.floats(items * n)
        for i in 0..<items { (gathered + i * n).update(from: item(i), count: n) }
        reduce(gathered, into: destination, pool: pool)
    }
}
