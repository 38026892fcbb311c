// Data-parallel training's communication, as ops of the graph: the `data-parallel` pass packs
// the parameter gradients into buckets, starts each bucket's all-reduce as soon as its last
// gradient exists and waits for it just before the optimiser reads the gradients. Being ops,
// the scheduler sees where communication starts and ends, and the memory plan keeps each
// bucket's buffer alive from its start to its wait (the bucket is the start's result, read by
// the wait), so nothing else is placed in memory the network is still writing.
//
// None of these ops is differentiated: they are placed after autodiff, on gradients, and a
// gradient of an all-reduce would be an all-reduce of the incoming gradient, which no graph
// here asks for. They declare no `DifferentiableOp` rule, so autodiff refuses a graph that
// would need one.

extension AttributeKey where Value == Int {
    /// Which bucket of the step an all-reduce op exchanges (0 is started first).
    public static let bucket = AttributeKey("bucket")
}

/// `allreduce_start(g0, g1, ...) {bucket}`: packs the gradients, flattened and in order, into
/// one f32 buffer (the bucket) scaled by this process's share of the global batch, and starts
/// summing it over every process without waiting. Its result is the bucket, which the network
/// may write until `allreduce_wait` reads it.
public enum AllReduceStartOp: OpSpec {
    public static let name = "allreduce_start"
    public static let arity = Arity.atLeast(1)
    public static let fusion = FusionClass.opaque
    /// Not a function of its inputs alone (the other processes contribute): CSE and constant
    /// folding must leave it.
    public static let isRandom = true
    public static let attributes: [AttributeSpec] = [.required(.bucket, .atLeast(0))]
    /// One multiply per element packed (the share); the sum over processes is communication.
    public static func flops(_ q: CostQuery) -> Double { q.outputCount }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        var total = 0
        for (i, t) in q.inputs.enumerated() {
            guard t.dtype == .f32 else { throw ShapeError("input \(i) is \(t): only f32 gradients are all-reduced") }
            guard let n = t.shape.knownCount else { throw ShapeError("input \(i) is \(t): a bucket holds gradients of known shape") }
            total += n
        }
        return .f32([total])
    }
}

/// `allreduce_wait(bucket) {bucket}`: blocks until the bucket started by `allreduce_start` with
/// the same `bucket` number has been summed over every process; its result is the summed
/// bucket (written over its input).
public enum AllReduceWaitOp: OpSpec {
    public static let name = "allreduce_wait"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static let isRandom = true
    public static let attributes: [AttributeSpec] = [.required(.bucket, .atLeast(0))]
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static var inPlaceOperands: InPlaceOperands { .inputs([0]) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let b = q.input(0)
        guard b.dtype == .f32, b.shape.rank == 1 else { throw ShapeError("the bucket must be a flat f32 buffer, got \(b)") }
        return b
    }
}

/// `bucket_slice(bucket) {start, shape}`: the elements start..<start+count(shape) of a flat
/// bucket, in `shape`: one gradient unpacked after its bucket's all-reduce.
public enum BucketSliceOp: OpSpec {
    public static let name = "bucket_slice"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.injective
    public static let attributes: [AttributeSpec] = [.required(.start, .atLeast(0)), .required(.shape)]
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let b = q.input(0)
        guard b.shape.rank == 1, let length = b.shape.knownCount else { throw ShapeError("the bucket must be a flat buffer of known size, got \(b)") }
        guard let start = q.attributes[.start], let shape = q.attributes[.shape], let n = shape.knownCount,
              shape.dims.allSatisfy({ if case .known(let d) = $0 { return d > 0 } else { return false } }) else {
            throw ShapeError("needs 'start' and a 'shape' of positive known dimensions")
        }
        guard start >= 0, start + n <= length else {
            throw ShapeError("elements \(start)..<\(start + n) lie outside the bucket of \(length)")
        }
        return TensorType(b.dtype, shape)
    }
}

extension OpDef {
    public static let allReduceStart = OpDef(AllReduceStartOp.self)
    public static let allReduceWait = OpDef(AllReduceWaitOp.self)
    public static let bucketSlice = OpDef(BucketSliceOp.self)
}
