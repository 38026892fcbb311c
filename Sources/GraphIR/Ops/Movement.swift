// Data movement: reshape, transpose, slicing, concatenation. No arithmetic: no FLOPs.

extension AttributeKey where Value == Int {
    /// The axis an op works along (negative counts from the end).
    public static let axis = AttributeKey("axis")
    /// `slice`'s half-open range start..<end.
    public static let start = AttributeKey("start")
    public static let end = AttributeKey("end")
    /// `select`'s position.
    public static let index = AttributeKey("index")
}
extension AttributeKey where Value == [Int] {
    /// `transpose`'s permutation: output axis i is input axis perm[i].
    public static let perm = AttributeKey("perm")
}
extension AttributeKey where Value == Shape {
    /// `reshape`'s target, one dimension possibly -1.
    public static let shape = AttributeKey("shape")
}

/// `axis`, `start` and `end` of a slice.
let sliceRange: [AttributeSpec] = [.required(.axis), .required(.start, .atLeast(0)), .required(.end, .atLeast(1))]
/// `axis` and `index` of a select.
let selectPosition: [AttributeSpec] = [.required(.axis), .required(.index, .atLeast(0))]

/// `reshape(x) {shape}`; one dimension may be -1 and is then inferred. Symbols (the batch)
/// must appear in the target as often as in the input. A size may be 0 when x is empty
/// (ONNX's allowzero reshapes); a -1 beside a 0 is then ambiguous and refused.
public enum ReshapeOp: OpSpec {
    public static let name = "reshape"
    public static let attributes: [AttributeSpec] = [.required(.shape)]
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.injective
    /// Element k in is element k out: the result may take the input's memory (no copy).
    public static let inPlaceOperands = InPlaceOperands.inputs([0])
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard let target = q.attributes[.shape] else { throw ShapeError("missing attribute 'shape'") }
        let x = q.input(0)
        let holes = target.dims.filter { $0 == .known(-1) }.count
        guard holes <= 1 else { throw ShapeError("only one dimension of \(target) may be -1") }
        if target.dims.contains(where: { if case .known(let n) = $0 { return n < -1 } else { return false } }) {
            throw ShapeError("invalid target shape \(target)")
        }
        let fin = factor(x.shape)
        let fout = factor(Shape(target.dims.filter { $0 != .known(-1) }))
        guard fin.symbols == fout.symbols else { throw ShapeError("cannot reshape \(x) to \(target): symbolic dimensions differ") }
        guard let inCount = fin.known, let outCount = fout.known else {
            throw ShapeError("cannot reshape \(x) to \(target): too many elements")
        }
        if holes == 1 {
            guard outCount > 0, inCount % outCount == 0 else { throw ShapeError("cannot reshape \(x) to \(target)") }
            return TensorType(x.dtype, Shape(target.dims.map { $0 == .known(-1) ? Dim.known(inCount / outCount) : $0 }))
        }
        guard inCount == outCount else {
            throw ShapeError("cannot reshape \(x) (\(inCount) elements per batch) to \(target) (\(outCount))")
        }
        return TensorType(x.dtype, target)
    }
}
extension ReshapeOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.reshapeLike, [c.gradient, c.input(0)])]
    }
}

/// `reshape_like(x, ref)`: x's elements in ref's shape (reshape's gradient).
public enum ReshapeLikeOp: OpSpec {
    public static let name = "reshape_like"
    public static let attributes: [AttributeSpec] = []
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.injective
    /// Element k of x is element k out: the result may take x's memory (no copy).
    public static let inPlaceOperands = InPlaceOperands.inputs([0])
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard sameElementCount(q.input(0).shape, q.input(1).shape) else {
            throw ShapeError("\(q.input(0)) and \(q.input(1)) hold different numbers of elements")
        }
        return TensorType(q.input(0).dtype, q.input(1).shape)
    }
}
extension ReshapeLikeOp: DifferentiableOp {
    /// The reference only lends its shape.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [c.needs(0) ? try c.emit(.reshapeLike, [c.gradient, c.input(0)]) : nil, nil]
    }
}

/// `transpose(x) {perm}`: output axis i is input axis perm[i].
public enum TransposeOp: OpSpec {
    public static let name = "transpose"
    public static let attributes: [AttributeSpec] = [.required(.perm, .eachAtLeast(0))]
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.injective
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let x = q.input(0)
        let perm = try q.required(.perm, count: x.rank)
        guard Set(perm) == Set(0..<x.rank) else { throw ShapeError("perm \(perm) is not a permutation of 0..<\(x.rank)") }
        return TensorType(x.dtype, Shape(perm.map { x.shape[$0] }))
    }
}
extension TransposeOp: DifferentiableOp {
    /// The inverse permutation: output axis i came from input axis perm[i].
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let perm = c.attributes[.perm] ?? []
        var inverse = Array(repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() where p >= 0 && p < perm.count { inverse[p] = i }
        return [try c.emit(.transpose, [c.gradient], ["perm": .ints(inverse)])]
    }
}

/// `concat(x1, x2, ...) {axis}`: every other dimension must agree.
public enum ConcatOp: OpSpec {
    public static let name = "concat"
    public static let attributes: [AttributeSpec] = [.required(.axis)]
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static let arity = Arity.atLeast(1)
    public static let fusion = FusionClass.injective
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let first = q.input(0)
        let ax = try q.axis(.axis, rank: first.rank)
        var total = 0
        for t in q.inputs {
            guard t.rank == first.rank, t.dtype == first.dtype else { throw ShapeError("cannot concatenate \(first) and \(t)") }
            for i in 0..<t.rank where i != ax && t.shape[i] != first.shape[i] {
                throw ShapeError("cannot concatenate \(first) and \(t) along axis \(ax): dimension \(i) differs")
            }
            guard let n = t.shape[ax].value else { throw ShapeError("the concatenation axis must be a known size, got \(t)") }
            total += n
        }
        var dims = first.shape.dims
        dims[ax] = .known(total)
        return TensorType(first.dtype, Shape(dims))
    }
}
extension ConcatOp: DifferentiableOp {
    /// Each input gets its own slice of the gradient along the axis.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        guard c.inputs.count > 1 else { return [c.gradient] }
        let rank = c.type(c.gradient).rank
        let raw = c.attributes[.axis] ?? 0
        let axis = raw < 0 ? raw + rank : raw
        var start = 0
        var grads: [Value?] = []
        for (i, x) in c.inputs.enumerated() {
            let n = c.type(x).shape[axis].value ?? 0
            grads.append(c.needs(i)
                ? try c.emit(.slice, [c.gradient], ["axis": .int(axis), "start": .int(start), "end": .int(start + n)])
                : nil)
            start += n
        }
        return grads
    }
}

/// `slice(x) {axis, start, end}`: the half-open range start..<end along axis.
public enum SliceOp: OpSpec {
    public static let name = "slice"
    public static let attributes = sliceRange
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.injective
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let x = q.input(0)
        let ax = try q.axis(.axis, rank: x.rank)
        let start = try q.required(.start), end = try q.required(.end)
        guard let n = x.shape[ax].value else { throw ShapeError("cannot slice symbolic dimension \(x.shape[ax]) of \(x)") }
        guard 0 <= start, start < end, end <= n else { throw ShapeError("slice \(start)..<\(end) is out of range for axis \(ax) of \(x)") }
        var dims = x.shape.dims
        dims[ax] = .known(end - start)
        return TensorType(x.dtype, Shape(dims))
    }
}
extension SliceOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.sliceGrad, [c.gradient, c.input(0)], c.attributes)]
    }
}

/// `select(x) {axis, index}`: one position along axis, which disappears (`captions[:, t]`).
public enum SelectOp: OpSpec {
    public static let name = "select"
    public static let attributes = selectPosition
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.injective
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let x = q.input(0)
        let ax = try q.axis(.axis, rank: x.rank)
        let index = try q.required(.index)
        guard let n = x.shape[ax].value else { throw ShapeError("cannot index symbolic dimension \(x.shape[ax]) of \(x)") }
        guard 0 <= index, index < n else { throw ShapeError("index \(index) is out of range for axis \(ax) of \(x)") }
        var dims = x.shape.dims
        dims.remove(at: ax)
        return TensorType(x.dtype, Shape(dims))
    }
}
extension SelectOp: DifferentiableOp {
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [try c.emit(.selectGrad, [c.gradient, c.input(0)], c.attributes)]
    }
}

/// `slice_grad(dy, ref) {axis, start, end}`: dy placed in zeros shaped like ref.
public enum SliceGradOp: OpSpec {
    public static let name = "slice_grad"
    public static let attributes = sliceRange
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.injective
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0)
        return .f32(q.input(1).shape)
    }
}

/// `select_grad(dy, ref) {axis, index}`: dy placed at index in zeros shaped like ref.
public enum SelectGradOp: OpSpec {
    public static let name = "select_grad"
    public static let attributes = selectPosition
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.injective
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0)
        return .f32(q.input(1).shape)
    }
}

/// `stack(x1, x2, ...) {axis}`: same-typed tensors along a new axis.
public enum StackOp: OpSpec {
    public static let name = "stack"
    public static let attributes: [AttributeSpec] = [.required(.axis)]
    public static func flops(_ q: CostQuery) -> Double { 0 }
    public static let arity = Arity.atLeast(1)
    public static let fusion = FusionClass.injective
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        let first = q.input(0)
        for t in q.inputs where t != first { throw ShapeError("stack needs equal types, got \(first) and \(t)") }
        let raw = try q.required(.axis)
        let ax = raw < 0 ? raw + first.rank + 1 : raw
        guard ax >= 0 && ax <= first.rank else { throw ShapeError("axis \(raw) is out of range for stacking \(first)") }
        var dims = first.shape.dims
        dims.insert(.known(q.inputs.count), at: ax)
        return TensorType(first.dtype, Shape(dims))
    }
}
extension StackOp: DifferentiableOp {
    /// Input i gets position i of the gradient along the stacking axis.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        let raw = c.attributes[.axis] ?? 0
        let axis = raw < 0 ? raw + c.type(c.gradient).rank : raw
        return try c.perInput { i in try c.emit(.select, [c.gradient], ["axis": .int(axis), "index": .int(i)]) }
    }
}

extension OpDef {
    public static let reshape = OpDef(ReshapeOp.self)
    public static let reshapeLike = OpDef(ReshapeLikeOp.self)
    public static let transpose = OpDef(TransposeOp.self)
    public static let concat = OpDef(ConcatOp.self)
    public static let slice = OpDef(SliceOp.self)
    public static let select = OpDef(SelectOp.self)
    public static let sliceGrad = OpDef(SliceGradOp.self)
    public static let selectGrad = OpDef(SelectGradOp.self)
    public static let stack = OpDef(StackOp.self)
}
