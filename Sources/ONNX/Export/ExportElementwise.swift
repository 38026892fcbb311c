import GraphIR

// Element-by-element maps: ONNX's of the same name broadcast as numpy does, as graphc's do.

public enum ExportRelu: ONNXOneNodeRule { public static let op = OpDef.relu; public static let onnxOp = "Relu" }
public enum ExportSigmoid: ONNXOneNodeRule { public static let op = OpDef.sigmoid; public static let onnxOp = "Sigmoid" }
public enum ExportTanh: ONNXOneNodeRule { public static let op = OpDef.tanh; public static let onnxOp = "Tanh" }
public enum ExportExp: ONNXOneNodeRule { public static let op = OpDef.exp; public static let onnxOp = "Exp" }
public enum ExportLog: ONNXOneNodeRule { public static let op = OpDef.log; public static let onnxOp = "Log" }
public enum ExportNeg: ONNXOneNodeRule { public static let op = OpDef.neg; public static let onnxOp = "Neg" }
public enum ExportAdd: ONNXOneNodeRule { public static let op = OpDef.add; public static let onnxOp = "Add" }
public enum ExportSub: ONNXOneNodeRule { public static let op = OpDef.sub; public static let onnxOp = "Sub" }
public enum ExportMul: ONNXOneNodeRule { public static let op = OpDef.mul; public static let onnxOp = "Mul" }
public enum ExportDiv: ONNXOneNodeRule { public static let op = OpDef.div; public static let onnxOp = "Div" }

/// `scale {factor}` -> `Mul(x, factor)`.
public enum ExportScale: ONNXExportRule {
    public static let op = OpDef.scale
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("Mul", [n.input(0), w.float(Float(try n.required(.factor)), "factor")], output: n.output)
    }
}

/// `clamp {min, max}` -> `Clip(x, min, max)` (bounds as inputs since opset 11).
public enum ExportClamp: ONNXExportRule {
    public static let op = OpDef.clamp
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let lo = w.float(Float(try n.required(.min)), "min"), hi = w.float(Float(try n.required(.max)), "max")
        w.add("Clip", [n.input(0), lo, hi], output: n.output)
    }
}

/// `relu_grad(dy, x)` -> `Where(x > 0, dy, 0)`.
public enum ExportReluGrad: ONNXExportRule {
    public static let op = OpDef.reluGrad
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        let zero = w.float(0, "zero")
        let positive = w.add("Greater", [n.input(1), zero])
        w.add("Where", [positive, n.input(0), zero], output: n.output)
    }
}

public enum ExportSqrt: ONNXOneNodeRule { public static let op = OpDef.sqrt; public static let onnxOp = "Sqrt" }
public enum ExportAbs: ONNXOneNodeRule { public static let op = OpDef.abs; public static let onnxOp = "Abs" }
public enum ExportErf: ONNXOneNodeRule { public static let op = OpDef.erf; public static let onnxOp = "Erf" }

public enum ExportLeakyRelu: ONNXExportRule {
    public static let op = OpDef.leakyRelu
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("LeakyRelu", [n.input(0)], output: n.output, attributes: [ONNXAttribute.float("alpha", try n.required(.alpha))])
    }
}

public enum ExportHardSigmoid: ONNXExportRule {
    public static let op = OpDef.hardSigmoid
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("HardSigmoid", [n.input(0)], output: n.output,
              attributes: [ONNXAttribute.float("alpha", try n.required(.alpha)), ONNXAttribute.float("beta", try n.required(.beta))])
    }
}

/// `pow(x) {exponent}` -> `Pow(x, exponent)`.
public enum ExportPow: ONNXExportRule {
    public static let op = OpDef.pow
    public static func export(_ n: ExportedNode, into w: ONNXGraphWriter) throws {
        w.add("Pow", [n.input(0), w.float(Float(try n.required(.exponent)), "exponent")], output: n.output)
    }
}
