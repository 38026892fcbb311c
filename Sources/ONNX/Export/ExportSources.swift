import GraphIR

// Source ops other than inputs and parameters (which become graph inputs and initializers).

/// A scalar `constant {value}` -> `Constant` holding an f32 scalar.
public enum ExportConstant: ONNXExportRule {
    public static let op = OpDef.constant
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let value = ONNXTensorWriting.floats([Float(try n.required(.value))], shape: [])
        w.add("Constant", [], output: n.output, attributes: [ONNXAttribute.tensor("value", value)])
    }
}

/// `dropout_mask(x)` is all ones outside training, the only mode an exported graph runs in:
/// `ConstantOfShape(Shape(x), 1)`.
public enum ExportDropoutMask: ONNXExportRule {
    public static let op = OpDef.dropoutMask
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let shape = w.add("Shape", [n.input(0)])
        w.add("ConstantOfShape", [shape], output: n.output,
              attributes: [ONNXAttribute.tensor("value", ONNXTensorWriting.floats([1], shape: [1]))])
    }
}
