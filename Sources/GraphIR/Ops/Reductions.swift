// Reductions over axes, and the broadcasts that undo them in gradients.

/// `{axes, keepdims}` over one f32 input.
public protocol AxesReductionOp: OpSpec {}
extension AxesReductionOp {
    public static var arity: Arity { .exactly(1) }
    public static var fusion: FusionClass { .reduction }
    public static var attributes: [AttributeSpec] { [.required(.axes), .optional(.keepdims)] }
    /// An add per input element.
    public static func flops(_ q: CostQuery) -> Double { q.count(0) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0)
        return .f32(try reducedShape(q))
    }

    /// Input 0's shape with `axes` removed (or kept as 1s with `keepdims`).
    public static func reducedShape(_ q: ShapeQuery) throws -> Shape {
        let s = q.input(0).shape
        var axes = Set<Int>()
        for a in try q.required(.axes) {
            let n = a < 0 ? a + s.rank : a
            guard n >= 0 && n < s.rank else { throw ShapeError("axis \(a) is out of range for \(q.input(0))") }
            guard axes.insert(n).inserted else { throw ShapeError("axis \(a) is given twice (axes count from the end when negative)") }
        }
        let keep = q.attributes[.keepdims] ?? false
        var dims: [Dim] = []
        for (i, d) in s.dims.enumerated() {
            if axes.contains(i) { if keep { dims.append(.known(1)) } } else { dims.append(d) }
        }
        return Shape(dims)
    }
}

extension AttributeKey where Value == [Int] {
    /// The axes a reduction reduces (negative counts from the end).
    public static let axes = AttributeKey("axes")
}
extension AttributeKey where Value == Bool {
    /// Whether a reduction keeps its reduced axes as 1s.
    public static let keepdims = AttributeKey("keepdims")
}

public enum SumOp: AxesReductionOp { public static let name = "sum" }
extension SumOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] { [try c.expandReduced()] }
}
public enum MeanOp: AxesReductionOp { public static let name = "mean" }
extension MeanOp: DifferentiableOp {
    /// The sum's gradient divided by the number of reduced elements. When a reduced axis is
    /// symbolic (the batch) that number is only known at run time, so it is computed then, as
    /// the sum of ones over the same axes.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let x = c.input(0), dims = c.type(x).shape.dims
        let g = try c.expandReduced()
        var known = 1, symbolic = false
        for a in c.reducedAxes() {
            if let n = dims[a].value { known *= n } else { symbolic = true }
        }
        guard symbolic else { return [try c.emit(.scale, [g], ["factor": .float(1 / Double(max(known, 1)))])] }
        let ones = try c.emit(.broadcastLike, [try c.constant(1), x])
        let count = try c.emit(.sum, [ones], ["axes": .ints(c.reducedAxes().sorted()), "keepdims": .bool(true)])
        return [try c.emit(.div, [g, count])]
    }
}

/// `reduce_like(x, ref)`: sums x down to ref's shape over the axes broadcasting stretched
/// (the gradient of a broadcasting binary op).
public enum ReduceLikeOp: OpSpec {
    public static let name = "reduce_like"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.reduction
    public static let attributes: [AttributeSpec] = []
    /// An add per element of x.
    public static func flops(_ q: CostQuery) -> Double { q.count(0) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0)
        let target = q.input(1).shape
        guard try broadcastShapes(q.input(0).shape, target) == q.input(0).shape else {
            throw ShapeError("\(q.input(0)) does not reduce to \(target)")
        }
        return .f32(target)
    }
}
extension ReduceLikeOp: DifferentiableOp {
    /// Undoes the broadcast the reduction undid; the reference only lends its shape.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [c.needs(0) ? try c.emit(.broadcastLike, [c.gradient, c.input(0)]) : nil, nil]
    }
}

/// `broadcast_like(x, ref)`: stretches x to ref's shape (numpy rules).
public enum BroadcastLikeOp: OpSpec {
    public static let name = "broadcast_like"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.injective
    public static let attributes: [AttributeSpec] = []
    /// Copies only.
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0)
        let target = q.input(1).shape
        guard try broadcastShapes(q.input(0).shape, target) == target else {
            throw ShapeError("\(q.input(0)) does not broadcast to \(target)")
        }
        return .f32(target)
    }
}
extension BroadcastLikeOp: DifferentiableOp {
    /// Sums the stretched copies back; the reference only lends its shape.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [c.needs(0) ? try c.unbroadcast(c.gradient, to: c.input(0)) : nil, nil]
    }
}

extension AttributeKey where Value == Bool {
    /// Whether argmax picks the last of equal maxima rather than the first (ONNX's select_last_index).
    public static let selectLast = AttributeKey("select_last")
}

/// Index of the largest element along `{axis}` (greedy decoding, accuracy); i64 result. Of
/// equal maxima it picks the first, or the last with `select_last`; a NaN is the maximum.
public enum ArgmaxOp: OpSpec {
    public static let name = "argmax"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.reduction
    public static let attributes: [AttributeSpec] = [.required(.axis), .optional(.selectLast)]
    /// A comparison per input element.
    public static func flops(_ q: CostQuery) -> Double { q.count(0) }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0)
        let ax = try q.axis(.axis, rank: q.input(0).rank)
        var dims = q.input(0).shape.dims
        dims.remove(at: ax)
        return .i64(Shape(dims))
    }
}

extension OpDef {
    public static let sum = OpDef(SumOp.self)
    public static let mean = OpDef(MeanOp.self)
    public static let reduceLike = OpDef(ReduceLikeOp.self)
    public static let broadcastLike = OpDef(BroadcastLikeOp.self)
    public static let argmax = OpDef(ArgmaxOp.self)
}
