// Pooling over three spatial axes, [N, C, D, H, W] (ONNX MaxPool and AveragePool on volumes,
// and dilated average pooling, which the ONNX importer lifts to a depth-1 volume), and the
// positions of max pooling's maxima (MaxPool's second output, `Indices`).

extension AttributeKey where Value == Bool {
    /// Whether `maxpool_indices` numbers each image's elements column-major (ONNX's
    /// storage_order=1) instead of row-major.
    public static let columnMajor = AttributeKey("column_major")
}

/// The geometry of a pooling window over the trailing spatial axes of [N, C, spatial...]:
/// per axis the kernel, stride, padding before and after and dilation. `padding` gives either
/// one value per axis (both ends) or the begins then the ends (ONNX's `pads` order).
public struct PoolWindow: Equatable, Sendable {
    public var kernel: [Int]
    public var stride: [Int]
    public var padBegin: [Int]
    public var padEnd: [Int]
    public var dilation: [Int]

    /// The window as the attributes give it, for `axes` spatial axes; missing or malformed
    /// values read as the defaults (kernels run on verified graphs, whose shape rules used
    /// `init(checking:axes:)`).
    public init(_ a: Attributes, axes: Int) {
        let ones = [Int](repeating: 1, count: axes), zeros = [Int](repeating: 0, count: axes)
        let k = a[.kernelSize] ?? [], s = a[.stride] ?? [], p = a[.padding] ?? [], d = a[.dilation] ?? []
        kernel = k.count == axes ? k : ones
        stride = s.count == axes ? s : ones
        dilation = d.count == axes ? d : ones
        switch p.count {
        case axes: padBegin = p; padEnd = p
        case 2 * axes: padBegin = Array(p[..<axes]); padEnd = Array(p[axes...])
        default: padBegin = zeros; padEnd = zeros
        }
    }

    /// The window of a shape query, with an error for a wrong count of values.
    init(checking q: ShapeQuery, axes: Int) throws {
        _ = try q.required(.kernelSize, count: axes)
        _ = try q.required(.stride, count: axes)
        let p = try q.required(.padding)
        guard p.count == axes || p.count == 2 * axes else {
            throw ShapeError("attribute 'padding' needs \(axes) values (both ends) or \(2 * axes) (begins, then ends), got \(p.count)")
        }
        if let d = q.attributes[.dilation], d.count != axes {
            throw ShapeError("attribute 'dilation' needs \(axes) values, got \(d.count)")
        }
        self.init(q.attributes, axes: axes)
    }

    /// The pooled shape of x [N, C, spatial...] (every spatial size must be known).
    func output(_ x: TensorType, ceilMode: Bool, what: String) throws -> TensorType {
        var dims = Array(x.shape.dims.prefix(2))
        for axis in 0..<kernel.count {
            guard case .known(let size) = x.shape[axis + 2] else {
                throw ShapeError("\(what): spatial sizes must be known numbers, got \(x)")
            }
            dims.append(.known(try windowOutput(size, kernel: kernel[axis], stride: stride[axis], padBegin: padBegin[axis],
                                                padEnd: padEnd[axis], dilation: dilation[axis], ceilMode: ceilMode, what: what)))
        }
        return .f32(Shape(dims))
    }
}

/// `kernel`, `stride`, `padding`, `dilation?` and `ceil_mode?` of a 3-D pooling window.
let pooling3dWindow: [AttributeSpec] = poolingWindow + [.optional(.dilation, .eachAtLeast(1))]

/// The pooled [N, C, D', H', W'] of a 3-D pooling op's input `i`.
func pooled3d(_ q: ShapeQuery, input i: Int = 0, what: String) throws -> TensorType {
    try q.requireFloat(i); try q.requireRank(i, 5...5)
    return try PoolWindow(checking: q, axes: 3).output(q.input(i), ceilMode: q.attributes[.ceilMode] ?? false, what: what)
}

/// `maxpool3d(x) {kernel, stride, padding, dilation?, ceil_mode?}` over the last three axes
/// of [N, C, D, H, W]. Padding never wins; a window entirely in padding gives -inf; NaN wins.
public enum Maxpool3dOp: OpSpec {
    public static let name = "maxpool3d"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static let attributes = pooling3dWindow
    /// A comparison per output element and window position.
    public static func flops(_ q: CostQuery) -> Double { q.outputCount * windowSize(q) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType { try pooled3d(q, what: "maxpool3d") }
}
extension Maxpool3dOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.maxpool3dGrad, [c.gradient, c.input(0)], c.attributes)]
    }
}

/// `maxpool3d_grad(dy, x) {kernel, stride, padding, dilation?, ceil_mode?}`: routes each dy to
/// its window's first maximum (x gives the shape); overlapping windows add.
public enum Maxpool3dGradOp: OpSpec {
    public static let name = "maxpool3d_grad"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static let attributes = Maxpool3dOp.attributes
    /// The forward's comparisons again, per dy element, to find where each maximum was.
    public static func flops(_ q: CostQuery) -> Double { q.count(0) * windowSize(q) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "gradient")
        let y = try pooled3d(q, input: 1, what: "maxpool3d_grad")
        guard y.shape == q.input(0).shape else { throw ShapeError("gradient \(q.input(0)) must be the pooled shape \(y.shape)") }
        return q.input(1)
    }
}

/// `avgpool3d(x) {kernel, stride, padding, dilation?, ceil_mode?, count_include_pad?}` over
/// the last three axes of [N, C, D, H, W]. Each output is the sum of its window's taps inside
/// the volume divided by their number, or with `count_include_pad` by the number of taps inside
/// the padded volume (a ceil_mode window hanging past the end padding counts only up to it).
public enum Avgpool3dOp: OpSpec {
    public static let name = "avgpool3d"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static let attributes = pooling3dWindow + [.optional(.countIncludePad)]
    /// An add per output element and window position, and a divide.
    public static func flops(_ q: CostQuery) -> Double { q.outputCount * (windowSize(q) + 1) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType { try pooled3d(q, what: "avgpool3d") }
}
extension Avgpool3dOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.avgpool3dGrad, [c.gradient, c.input(0)], c.attributes)]
    }
}

/// `avgpool3d_grad(dy, x) {kernel, stride, padding, dilation?, ceil_mode?, count_include_pad?}`:
/// spreads each dy over its window's taps inside the volume, divided as the forward divides
/// (x gives the shape).
public enum Avgpool3dGradOp: OpSpec {
    public static let name = "avgpool3d_grad"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static let attributes = Avgpool3dOp.attributes
    /// An add per dy element and window position.
    public static func flops(_ q: CostQuery) -> Double { q.count(0) * (windowSize(q) + 1) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "gradient")
        let y = try pooled3d(q, input: 1, what: "avgpool3d_grad")
        guard y.shape == q.input(0).shape else { throw ShapeError("gradient \(q.input(0)) must be the pooled shape \(y.shape)") }
        return q.input(1)
    }
}

/// `maxpool_indices(x) {kernel, stride, padding, dilation?, ceil_mode?, column_major?}` over
/// [N, C, H, W] or [N, C, D, H, W]: the i64 position in x of each window's first maximum (as
/// `maxpool2d` and `maxpool3d` pick it), counted over the whole tensor: row-major, or with
/// `column_major` column-major within each image (n and c still row-major), ONNX MaxPool's
/// `Indices` with storage_order. A window entirely in padding gives -1. An integer result:
/// no gradient.
public enum MaxpoolIndicesOp: OpSpec {
    public static let name = "maxpool_indices"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static let attributes = pooling3dWindow + [.optional(.columnMajor)]
    /// A comparison per output element and window position.
    public static func flops(_ q: CostQuery) -> Double { q.outputCount * windowSize(q) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireRank(0, 4...5)
        let x = q.input(0)
        let y = try PoolWindow(checking: q, axes: x.rank - 2).output(x, ceilMode: q.attributes[.ceilMode] ?? false, what: "maxpool_indices")
        return .i64(y.shape)
    }
}

extension OpDef {
    public static let maxpool3d = OpDef(Maxpool3dOp.self)
    public static let maxpool3dGrad = OpDef(Maxpool3dGradOp.self)
    public static let avgpool3d = OpDef(Avgpool3dOp.self)
    public static let avgpool3dGrad = OpDef(Avgpool3dGradOp.self)
    public static let maxpoolIndices = OpDef(MaxpoolIndicesOp.self)
}
