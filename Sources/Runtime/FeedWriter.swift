import GraphIR

/// A feed the caller writes straight into the executor's input memory instead of handing
/// over a `HostTensor` the executor then copies: a batch gathered from a large table (a
/// captioning batch's image features) is written once, where the kernels read it.
///
/// `write` gets the input's memory (`shape`'s element count of `dtype`, 64-byte aligned) and
/// must set every element: the memory holds whatever the last run left there. It also gets
/// the executor's worker pool, to split a large copy over (idle while feeds are written). It
/// is called once per run, after the feeds' shapes and types are checked and before any
/// kernel runs; an error it throws ends the run before any kernel.
///
/// For an input taken reduced (`reduced-inputs`) the writer still gives the declared `shape`;
/// `writeReduced`, when given, writes the reduced value straight away (gathering and reducing
/// in one pass, with `ReducedFeed.reduce(items:into:pool:)`). Without it the executor has
/// `write` fill scratch memory and reduces that.
public struct FeedWriter {
    public let shape: [Int]
    public let dtype: DType
    public let write: (UnsafeMutableRawPointer, WorkerPool) throws -> Void
    /// Writes the feed reduced as `ReducedFeed` says into memory of its `shape`.
    public let writeReduced: ((ReducedFeed, UnsafeMutableRawPointer, WorkerPool) throws -> Void)?

    public init(shape: [Int], dtype: DType = .f32, write: @escaping (UnsafeMutableRawPointer, WorkerPool) throws -> Void,
                writeReduced: ((ReducedFeed, UnsafeMutableRawPointer, WorkerPool) throws -> Void)? = nil) {
        self.shape = shape; self.dtype = dtype; self.write = write; self.writeReduced = writeReduced
    }

    /// The feed as a tensor of its own, `write` run into new memory (to run the same feeds
    /// again elsewhere, e.g. op by op to locate a non-finite value).
    /// A shape with a negative dimension, or more elements than the executor would accept
    /// (`maxBLASElementCount`), is an error, not a trap or an allocation too large.
    public func tensor() throws -> HostTensor {
        guard let n = checkedElementCount(shape), n <= maxBLASElementCount else {
            throw RuntimeError("a written feed of shape \(shape) cannot be a tensor: "
                               + (shape.contains { $0 < 0 } ? "a dimension is negative" : "more than \(maxBLASElementCount) elements"))
        }
        let bytes = UnsafeMutableRawPointer.allocate(byteCount: max(n * dtype.byteSize, 1), alignment: 64)
        defer { bytes.deallocate() }
        bytes.initializeMemory(as: UInt8.self, repeating: 0, count: max(n * dtype.byteSize, 1))
        try write(bytes, .serial)
        return HostTensor(copying: bytes, shape: shape, dtype: dtype)
    }

    /// Every feed as a tensor: `tensors` with each writer's `tensor()` added.
    public static func tensors(_ tensors: [String: HostTensor], adding writers: [String: FeedWriter]) throws -> [String: HostTensor] {
        var all = tensors
        for (name, w) in writers { all[name] = try w.tensor() }
        return all
    }
}
