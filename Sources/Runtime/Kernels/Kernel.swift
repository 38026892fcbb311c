import GraphIR

/// A kernel's view of one tensor: memory it does not own, and a concrete shape.
public struct TensorView {
    public let data: UnsafeMutableRawPointer
    public let shape: [Int]
    public let dtype: DType

    public init(data: UnsafeMutableRawPointer, shape: [Int], dtype: DType) {
        self.data = data; self.shape = shape; self.dtype = dtype
    }

    public var count: Int { shape.reduce(1, *) }
    public var f32: UnsafeMutablePointer<Float> { data.assumingMemoryBound(to: Float.self) }
    public var i64: UnsafeMutablePointer<Int64> { data.assumingMemoryBound(to: Int64.self) }
    public var floats: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: f32, count: count) }
}

/// Scratch memory kernels may borrow (im2col columns, softmax rows). It grows to the largest
/// request once and is then reused, so steady-state steps allocate nothing.
public final class Workspace {
    private var buffer: UnsafeMutablePointer<Float>?
    private var capacity = 0

    public init() {}
    deinit { buffer?.deallocate() }

    /// Bytes currently held (for memory summaries).
    public var byteCount: Int { buffer == nil ? 0 : capacity * MemoryLayout<Float>.stride }

    public func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        if count > capacity || buffer == nil {
            buffer?.deallocate()
            capacity = max(count, 1)
            buffer = UnsafeMutablePointer<Float>.allocate(capacity: capacity)
        }
        return buffer!
    }
}

/// Everything a kernel gets: its inputs, where to write its result, its attributes, scratch
/// memory, the seeded random source (for dropout masks) and the threads it may split its
/// work over. A kernel that splits work gives each chunk its own slice of the workspace
/// (the workspace is one buffer, requested once by the calling thread before the split).
public struct KernelContext {
    public let inputs: [TensorView]
    public let output: TensorView
    public let attributes: Attributes
    public let workspace: Workspace
    public let random: RandomSource
    public let pool: WorkerPool

    public init(inputs: [TensorView], output: TensorView, attributes: Attributes, workspace: Workspace, random: RandomSource,
                pool: WorkerPool = .serial) {
        self.inputs = inputs; self.output = output; self.attributes = attributes
        self.workspace = workspace; self.random = random; self.pool = pool
    }
}

extension KernelContext {
    /// The pool's tuner: how a kernel with several ways to run picks one (`Tuner.run`).
    public var tuner: Tuner { pool.tuner }
}
