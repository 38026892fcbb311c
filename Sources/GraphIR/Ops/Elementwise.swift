// Element-by-element maps. Binary ops broadcast like numpy.

/// f32 in, same type out.
public protocol UnaryElementwiseOp: OpSpec {}
extension UnaryElementwiseOp {
    public static var arity: Arity { .exactly(1) }
    public static var fusion: FusionClass { .elementwise }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0)
        return q.input(0)
    }
}

/// Two f32 operands broadcast together.
public protocol BinaryElementwiseOp: OpSpec {}
extension BinaryElementwiseOp {
    public static var arity: Arity { .exactly(2) }
    public static var fusion: FusionClass { .elementwise }
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0, "left operand"); try q.requireFloat(1, "right operand")
        return .f32(try broadcastShapes(q.input(0).shape, q.input(1).shape))
    }
}

public enum ReluOp: UnaryElementwiseOp { public static let name = "relu" }
public enum SigmoidOp: UnaryElementwiseOp { public static let name = "sigmoid" }
public enum TanhOp: UnaryElementwiseOp { public static let name = "tanh" }
public enum ExpOp: UnaryElementwiseOp { public static let name = "exp" }
public enum LogOp: UnaryElementwiseOp { public static let name = "log" }
public enum NegOp: UnaryElementwiseOp { public static let name = "neg" }

/// `x * factor` for a compile-time `{factor}`.
public enum ScaleOp: UnaryElementwiseOp {
    public static let name = "scale"
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard q.attributes.float("factor") != nil else { throw ShapeError("missing attribute 'factor'") }
        try q.requireFloat(0)
        return q.input(0)
    }
}

/// Clamp to `{min, max}` (gradient clipping by value).
public enum ClampOp: UnaryElementwiseOp {
    public static let name = "clamp"
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard let lo = q.attributes.float("min"), let hi = q.attributes.float("max"), lo <= hi else {
            throw ShapeError("clamp needs attributes 'min' <= 'max'")
        }
        try q.requireFloat(0)
        return q.input(0)
    }
}

public enum AddOp: BinaryElementwiseOp { public static let name = "add" }
public enum SubOp: BinaryElementwiseOp { public static let name = "sub" }
public enum MulOp: BinaryElementwiseOp { public static let name = "mul" }
public enum DivOp: BinaryElementwiseOp { public static let name = "div" }

/// `relu_grad(dy, x)`: dy where x > 0, else 0. Same shapes only.
public enum ReluGradOp: OpSpec {
    public static let name = "relu_grad"
    public static let arity = Arity.exactly(2)
    public static let fusion = FusionClass.elementwise
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        try q.requireFloat(0); try q.requireFloat(1)
        guard q.input(0).shape == q.input(1).shape else {
            throw ShapeError("operands must have the same shape, got \(q.input(0)) and \(q.input(1))")
        }
        return q.input(0)
    }
}

extension OpDef {
    public static let relu = OpDef(ReluOp.self)
    public static let sigmoid = OpDef(SigmoidOp.self)
    public static let tanh = OpDef(TanhOp.self)
    public static let exp = OpDef(ExpOp.self)
    public static let log = OpDef(LogOp.self)
    public static let neg = OpDef(NegOp.self)
    public static let scale = OpDef(ScaleOp.self)
    public static let clamp = OpDef(ClampOp.self)
    public static let add = OpDef(AddOp.self)
    public static let sub = OpDef(SubOp.self)
    public static let mul = OpDef(MulOp.self)
    public static let div = OpDef(DivOp.self)
    public static let reluGrad = OpDef(ReluGradOp.self)
}
