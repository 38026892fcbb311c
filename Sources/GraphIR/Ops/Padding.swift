// Padding along any axes (ONNX Pad), and its gradient.

extension AttributeKey where Value == [Int] {
    /// Per-axis padding in ONNX's order: every axis's begin, then every axis's end (negative
    /// values crop).
    public static let pads = AttributeKey("pads")
}
extension AttributeKey where Value == String {
    /// How padding is filled: "constant", "reflect" (mirrored without the edge), "edge" or
    /// "wrap" (the other end's elements, periodically).
    public static let padMode = AttributeKey("mode")
}
extension AttributeKey where Value == Double {
    /// The fill value of constant padding.
    public static let padValue = AttributeKey("pad_value")
}

/// The padding modes `pad` takes.
public enum PadMode: String, CaseIterable, Sendable {
    case constant, reflect, edge, wrap

    /// Where output position `o` along an axis of input size `size` with `begin` padding reads
    /// from: an input position, or nil for the constant fill.
    @inline(__always)
    public func source(_ o: Int, size: Int, begin: Int) -> Int? {
        // Saturated: a difference past the Int range is past either end all the same.
        let (d, overflow) = o.subtractingReportingOverflow(begin)
        let i = overflow ? (begin < 0 ? Int.max : Int.min) : d
        if i >= 0 && i < size { return i }
        switch self {
        case .constant: return nil
        case .edge: return i < 0 ? 0 : size - 1
        case .wrap:
            guard size > 0 else { return 0 }
            let r = i % size
            return r < 0 ? r + size : r
        case .reflect:
            guard size > 1 else { return 0 }
            // Mirror about the edges without repeating them, periodically for any distance.
            let period = 2 * (size - 1)
            var r = i % period
            if r < 0 { r += period }
            return r < size ? r : period - r
        }
    }
}

/// The spec both pad ops share.
let paddingAttributes: [AttributeSpec] = [
    .required(.pads), .optional(.padMode, .oneOf(PadMode.allCases.map(\.rawValue))), .optional(.padValue),
]

/// `pad(x) {pads, mode?, pad_value?}`: x padded along each axis by `pads` [begin..., end...]
/// (ONNX's order); mode "constant" (default, filled with `pad_value`, default 0), "reflect",
/// "edge" or "wrap". Reflect needs pads smaller than the axis, edge and wrap a non-empty axis.
/// x is f32 or i64 (ONNX's integer tensors; pad_value is then rounded toward zero).
public enum PadOp: OpSpec {
    public static let name = "pad"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.injective
    public static let attributes = paddingAttributes
    /// Copies only.
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard q.input(0).dtype == .f32 || q.input(0).dtype == .i64 else { throw ShapeError("input must be f32 or i64, got \(q.input(0))") }
        let x = q.input(0).shape
        let pads = try q.required(.pads)
        guard pads.count == 2 * x.rank else {
            throw ShapeError("'pads' needs \(2 * x.rank) values (every axis's begin, then every axis's end) for \(q.input(0)), got \(pads.count)")
        }
        let mode = PadMode(rawValue: q.attributes[.padMode] ?? "constant") ?? .constant
        var dims: [Dim] = []
        for (axis, d) in x.dims.enumerated() {
            let begin = pads[axis], end = pads[x.rank + axis]
            if begin == 0 && end == 0 { dims.append(d); continue }
            guard let size = d.value else { throw ShapeError("axis \(axis) of \(q.input(0)) is padded, so it must be a known number") }
            // Bounded as the IR text bounds its integers, so that sizes and positions stay far from overflow.
            guard begin.magnitude <= UInt(Shape.maxElementCount), end.magnitude <= UInt(Shape.maxElementCount) else {
                throw ShapeError("pads \(begin), \(end) of axis \(axis) exceed \(Shape.maxElementCount) in magnitude")
            }
            let (padded, overflow) = size.addingReportingOverflow(begin + end)
            guard !overflow else { throw ShapeError("axis \(axis) of \(q.input(0)) padded by \(begin), \(end) is too large") }
            guard padded >= 0 else { throw ShapeError("pads \(begin), \(end) crop more than axis \(axis) of \(q.input(0)) holds") }
            switch mode {
            case .constant: break
            case .edge, .wrap:
                guard size > 0 || begin + end <= 0 else { throw ShapeError("\(mode.rawValue) padding of an empty axis \(axis)") }
            case .reflect:
                guard begin < size && end < size else {
                    throw ShapeError("reflect padding of axis \(axis) (size \(size)) needs pads below \(size), got \(begin), \(end)")
                }
            }
            dims.append(.known(padded))
        }
        return TensorType(q.input(0).dtype, Shape(dims))
    }
}
extension PadOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.padGrad, [c.gradient, c.input(0)], c.attributes)]
    }
}

/// `pad_grad(dy, x) {pads, mode?, pad_value?}`: each element of dy added to the element of x
/// it was read from (x gives the shape; the constant fill gets nothing).
public enum PadGradOp: OpSpec {
    public static let name = "pad_grad"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.opaque
    public static let attributes = paddingAttributes
    /// An add per element of dy.
    public static func flops(_ q: CostQuery) -> Double { q.count(0) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(1)
        let y = try PadOp.shape(ShapeQuery(inputs: [q.input(1)], attributes: q.attributes))
        guard q.input(0) == y else { throw ShapeError("gradient \(q.input(0)) must be the padded type \(y)") }
        return q.input(1)
    }
}

extension OpDef {
    public static let pad = OpDef(PadOp.self)
    public static let padGrad = OpDef(PadGradOp.self)
}
