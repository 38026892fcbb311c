import GraphIR

/// A tensor the caller owns: feeds, parameters and results travel as these. Row-major.
public struct HostTensor: Equatable, CustomStringConvertible {
    public enum Storage: Equatable {
        case f32([Float])
        case i64([Int64])
    }

    public var shape: [Int]
    public var storage: Storage

    public init(shape: [Int], floats: [Float]) { self.shape = shape; storage = .f32(floats) }
    public init(shape: [Int], ints: [Int64]) { self.shape = shape; storage = .i64(ints) }
    public init(scalar: Float) { self.init(shape: [], floats: [scalar]) }

    /// Zeros of the given shape and type.
    public init(zeros shape: [Int], dtype: DType = .f32) {
        let n = max(0, shape.reduce(1, *))
        self.shape = shape
        storage = dtype == .f32 ? .f32([Float](repeating: 0, count: n)) : .i64([Int64](repeating: 0, count: n))
    }

    public var dtype: DType {
        switch storage {
        case .f32: return .f32
        case .i64: return .i64
        }
    }

    /// Elements the shape calls for.
    public var count: Int { shape.reduce(1, *) }
    /// Elements actually stored (the executor rejects feeds where this differs from `count`).
    public var storedCount: Int {
        switch storage {
        case .f32(let v): return v.count
        case .i64(let v): return v.count
        }
    }

    /// The values as floats (i64 values converted).
    public var floats: [Float] {
        get {
            switch storage {
            case .f32(let v): return v
            case .i64(let v): return v.map { Float($0) }
            }
        }
        set { storage = .f32(newValue) }
    }

    /// The values as integers (f32 values truncated toward zero, NaN as 0, saturating).
    public var ints: [Int64] {
        get {
            switch storage {
            case .i64(let v): return v
            case .f32(let v): return v.map(HostTensor.saturatingInt)
            }
        }
        set { storage = .i64(newValue) }
    }

    /// The first element as a float: a scalar loss reads as `t.scalar`.
    public var scalar: Float? {
        switch storage {
        case .f32(let v): return v.first
        case .i64(let v): return v.first.map { Float($0) }
        }
    }

    public var description: String { "\(dtype.rawValue)\(shape)" }

    static func saturatingInt(_ x: Float) -> Int64 {
        if x.isNaN { return 0 }
        if x >= 9.2e18 { return Int64.max }
        if x <= -9.2e18 { return Int64.min }
        return Int64(x.rounded(.towardZero))
    }

    /// Copies the first `n` values into raw memory laid out for `dtype` (the executor's feed
    /// path): from 64 KB on, as `rows` contiguous blocks (a batch's examples) split over `pool` the way
    /// an image-split kernel splits them (`parallelFor(rows, perThread: 1)`): each core then
    /// writes the examples it reads first, instead of one core writing the whole batch for
    /// both (on a host that placed the cores apart, the other core's first kernel then waited
    /// on every line of its half).
    func copyBytes(to p: UnsafeMutableRawPointer, count n: Int, rows: Int = 1, pool: WorkerPool = .serial) {
        func copy(_ bytes: UnsafeRawBufferPointer, size: Int) {
            guard let source = bytes.baseAddress else { return }
            let total = min(n, bytes.count / size) * size
            // A small feed (a batch's labels) is not worth a dispatch: a few lines cross at most.
            guard rows > 1, total % rows == 0, total >= 1 << 16 else { return p.copyMemory(from: source, byteCount: total) }
            let rowBytes = total / rows
            pool.parallelFor(rows, perThread: 1) { _, block in
                (p + block.lowerBound * rowBytes).copyMemory(from: source + block.lowerBound * rowBytes,
                                                            byteCount: block.count * rowBytes)
            }
        }
        switch storage {
        case .f32(let v): v.withUnsafeBytes { copy($0, size: 4) }
        case .i64(let v): v.withUnsafeBytes { copy($0, size: 8) }
        }
    }

    /// A copy of `count(shape)` elements of type `dtype` at `p`.
    init(copying p: UnsafeRawPointer, shape: [Int], dtype: DType) {
        let n = shape.reduce(1, *)
        self.shape = shape
        switch dtype {
        case .f32: storage = .f32(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Float.self), count: n)))
        case .i64: storage = .i64(Array(UnsafeBufferPointer(start: p.assumingMemoryBound(to: Int64.self), count: n)))
        }
    }
}
