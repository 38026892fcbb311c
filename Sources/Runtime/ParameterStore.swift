import GraphIR

/// Named weights, shared by every graph of a model (the training graph and the evaluation
/// graph read the same store). Each write bumps a version so an executor copies a weight
/// into its buffers only when it changed.
///
/// A trainer updates weights in its executor's memory, not here, so steps copy nothing; the
/// executor is then the store's `residence` and every read of the store first fetches the
/// newer values back (`synchronize`), so readers never see stale weights.
public final class ParameterStore {
    private var tensors: [String: HostTensor] = [:]
    private var versions: [String: UInt64] = [:]
    private var clock: UInt64 = 0
    private var _names: [String] = []
    /// The executor that holds newer weights than this store when `residenceIsNewer`.
    weak var residence: Executor?
    var residenceIsNewer = false

    /// Names in the order they were first set (graph order after `initialise`).
    public var names: [String] { synchronize(); return _names }

    public init() {}

    /// Fetches weights an executor updated in place (a training step) back into the store.
    public func synchronize() {
        guard residenceIsNewer, let r = residence else { return }
        residenceIsNewer = false
        r.writeBack(into: self)
    }

    public func get(_ name: String) -> HostTensor? { synchronize(); return tensors[name] }

    /// The stored tensor without synchronising (executors call `synchronize` themselves).
    func peek(_ name: String) -> HostTensor? { tensors[name] }

    /// Replaces the values of an existing tensor of the same dtype and element count from
    /// raw memory, in place; returns the new version, or nil when there is no such tensor.
    func overwrite(_ name: String, from source: UnsafeRawPointer, count: Int, dtype: DType) -> UInt64? {
        guard var t = tensors[name], t.dtype == dtype, t.storedCount == count else { return nil }
        tensors[name] = nil               // keep the array uniquely referenced: no copy on write
        switch t.storage {
        case .f32(var v):
            t.storage = .f32([])
            v.withUnsafeMutableBytes { $0.baseAddress?.copyMemory(from: source, byteCount: count * 4) }
            t.storage = .f32(v)
        case .i64(var v):
            t.storage = .i64([])
            v.withUnsafeMutableBytes { $0.baseAddress?.copyMemory(from: source, byteCount: count * 8) }
            t.storage = .i64(v)
        }
        tensors[name] = t
        clock += 1
        versions[name] = clock
        return clock
    }

    public func set(_ name: String, _ value: HostTensor) {
        synchronize()
        if tensors[name] == nil { _names.append(name) }
        tensors[name] = value
        clock += 1
        versions[name] = clock
    }

    public subscript(name: String) -> HostTensor? {
        get { get(name) }
        set {
            synchronize()
            if let v = newValue { set(name, v) } else if tensors.removeValue(forKey: name) != nil {
                _names.removeAll { $0 == name }
                versions[name] = nil
            }
        }
    }

    /// Changes a weight's values in place (an optimiser step) without copying the array.
    /// Returns false when there is no such f32 weight.
    @discardableResult
    public func update(_ name: String, _ body: (inout [Float]) -> Void) -> Bool {
        synchronize()
        guard var t = tensors[name], case .f32(var values) = t.storage else { return false }
        tensors[name] = nil               // keep the array uniquely referenced: no copy on write
        t.storage = .f32([])
        body(&values)
        t.storage = .f32(values)
        tensors[name] = t
        clock += 1
        versions[name] = clock
        return true
    }

    /// Increases whenever `name` is written; executors compare it with what they copied.
    func version(of name: String) -> UInt64 { versions[name] ?? 0 }

    /// Sets every parameter of `graph` from its `init` attribute, drawing from one generator
    /// seeded with `seed` in graph order, so a seed always gives the same weights:
    /// `uniform` with `bound` (±bound) or `low`/`high`, `normal` with `std` (and optional
    /// `mean`), `zeros`, `ones`, `constant` with `value`.
    public func initialise(from graph: Graph, seed: UInt64) throws {
        let random = RandomSource(seed: seed)
        for v in graph.parameters {
            let node = graph[v]
            let name = node.name ?? "%\(v.id)"
            guard let shape = node.type.shape.resolved([:]) else {
                throw RuntimeError("parameter '\(name)' has type \(node.type): parameter shapes must be known numbers")
            }
            set(name, try ParameterStore.initialValue(name: name, type: node.type, shape: shape, attributes: node.attributes, random: random))
        }
    }

    static func initialValue(name: String, type: TensorType, shape: [Int], attributes a: Attributes, random: RandomSource) throws -> HostTensor {
        let n = shape.reduce(1, *)
        guard let kind = a[.initializer] else {
            throw RuntimeError("parameter '\(name)' (\(type)) has no 'init' attribute (uniform, normal, zeros, ones or constant)")
        }
        switch kind {
        case "zeros": return HostTensor(zeros: shape, dtype: type.dtype)
        case "ones", "constant":
            let value = kind == "ones" ? 1 : a[.value]
            guard let value else { throw RuntimeError("parameter '\(name)': init 'constant' needs a 'value' attribute") }
            // A value from a .gir file: it must fit the parameter's dtype (Int64(inf) traps).
            if type.dtype == .i64 {
                guard let int = Int64(exactly: value.rounded(.towardZero)) else {
                    throw RuntimeError("parameter '\(name)': constant \(value) does not fit \(type.dtype.rawValue)")
                }
                return HostTensor(shape: shape, ints: [Int64](repeating: int, count: n))
            }
            guard Float(value).isFinite else { throw RuntimeError("parameter '\(name)': constant \(value) is not a finite float32") }
            return HostTensor(shape: shape, floats: [Float](repeating: Float(value), count: n))
        case "uniform":
            try requireFloat(name, type, kind)
            let low: Double, high: Double
            if let b = a[.bound] { low = -b; high = b }
            else if let l = a[.low], let h = a[.high] { low = l; high = h }
            else { throw RuntimeError("parameter '\(name)': init 'uniform' needs 'bound' or both 'low' and 'high'") }
            guard low <= high, Float(low).isFinite, Float(high).isFinite, Float(high - low).isFinite else {
                throw RuntimeError("parameter '\(name)': uniform range [\(low), \(high)] is empty or not finite in float32")
            }
            let span = Float(high - low), lo = Float(low)
            var values = [Float](repeating: 0, count: n)
            for i in 0..<n { values[i] = lo + span * random.nextFloat() }
            return HostTensor(shape: shape, floats: values)
        case "normal":
            try requireFloat(name, type, kind)
            guard let std = a[.std], std >= 0, std.isFinite else {
                throw RuntimeError("parameter '\(name)': init 'normal' needs a non-negative 'std'")
            }
            let mean = Float(a[.mean] ?? 0), s = Float(std)
            guard mean.isFinite, s.isFinite else {
                throw RuntimeError("parameter '\(name)': normal mean \(a[.mean] ?? 0) and std \(std) must be finite in float32")
            }
            var values = [Float](repeating: 0, count: n)
            for i in 0..<n { values[i] = mean + s * random.nextNormal() }
            return HostTensor(shape: shape, floats: values)
        default:
            throw RuntimeError("parameter '\(name)': unknown init '\(kind)' (expected uniform, normal, zeros, ones or constant)")
        }
    }

    private static func requireFloat(_ name: String, _ type: TensorType, _ kind: String) throws {
        guard type.dtype == .f32 else { throw RuntimeError("parameter '\(name)' is \(type): init '\(kind)' needs f32") }
    }
}
