import GraphIR

/// Every graphc op that exports to ONNX, by name. Inputs and parameters are the graph's
/// interface (graph inputs and initializers) and need no rule. An op missing here (gradient and
/// fused ops, which the inference pipeline does not make) is refused with its name and node.
public enum ONNXExportRules {
    public static let all: [ONNXExportRule.Type] = [
        ExportConstant.self, ExportDropoutMask.self,
        ExportRelu.self, ExportSigmoid.self, ExportTanh.self, ExportExp.self, ExportLog.self, ExportNeg.self,
        ExportScale.self, ExportClamp.self, ExportAdd.self, ExportSub.self, ExportMul.self, ExportDiv.self, ExportReluGrad.self,
        ExportSum.self, ExportMean.self, ExportArgmax.self, ExportBroadcastLike.self, ExportReduceLike.self,
        ExportMatmul.self, ExportConv2d.self, ExportMaxpool2d.self, ExportBatchNorm.self,
        ExportReshape.self, ExportReshapeLike.self, ExportTranspose.self, ExportConcat.self, ExportSlice.self,
        ExportSelect.self, ExportStack.self,
        ExportEmbedding.self,
        ExportSoftmax.self, ExportLogSoftmax.self,
        // The ops added for ONNX models.
        ExportSqrt.self, ExportAbs.self, ExportErf.self, ExportLeakyRelu.self, ExportHardSigmoid.self, ExportPow.self,
        ExportReduceMax.self, ExportReduceMin.self, ExportGather.self, ExportPad.self,
        ExportConvTranspose2d.self, ExportAvgpool2d.self, ExportLRN.self, ExportLSTMCell.self,
        ExportMaxpool3d.self, ExportAvgpool3d.self,
        ExportWhere.self,
    ]

    public static let byOpName: [String: ONNXExportRule.Type] = {
        var d: [String: ONNXExportRule.Type] = [:]
        for rule in all {
            precondition(d[rule.op.name] == nil, "op \(rule.op.name) has two ONNX export rules")
            d[rule.op.name] = rule
        }
        return d
    }()

    public static func rule(for op: OpDef) -> ONNXExportRule.Type? { byOpName[op.name] }
}
