// Conversion between graphc's element types, for ONNX models that mix them (Cast, and Pow of a
// float base and an integer exponent).

extension AttributeKey where Value == String {
    /// cast's target element type.
    public static let to = AttributeKey("to")
}

/// `cast(x) {to}`: x converted element by element to `to` ("f32" or "i64"). i64 to f32 rounds
/// to the nearest float; f32 to i64 truncates toward zero as C (and ONNX's Cast) do, and where
/// C is undefined gives a defined value: NaN becomes 0 and values beyond the i64 range
/// saturate.
public enum CastOp: OpSpec {
    public static let name = "cast"
    public static let arity = Arity.exactly(1)
    public static let fusion = FusionClass.opaque
    public static let attributes: [AttributeSpec] = [.required(.to, .oneOf(DType.allCases.map(\.rawValue)))]
    public static func shape(_ q: ShapeQuery) throws -> TensorType {
        guard let to = q.attributes[.to], let dtype = DType(rawValue: to) else {
            throw ShapeError("cast needs attribute 'to', one of \(DType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return TensorType(dtype, q.input(0).shape)
    }
    /// A conversion, no arithmetic.
    public static func flops(_ q: CostQuery) -> Double { 0 }
    /// Element k is read only to write element k (the planner reuses it only for a same-type cast).
    public static var inPlaceOperands: InPlaceOperands { .inputs([0]) }
}

extension CastOp: DifferentiableOp {
    /// f32 to f32 is the identity. A cast from or to i64 never asks: autodiff differentiates
    /// only through f32 values, and an i64 value carries no gradient.
    public static func gradient(_ c: GradientContext) throws -> [Value?] {
        [c.type(c.input(0)).dtype == .f32 && c.type(c.result).dtype == .f32 ? c.gradient : nil]
    }
}

extension OpDef {
    public static let cast = OpDef(CastOp.self)
}
