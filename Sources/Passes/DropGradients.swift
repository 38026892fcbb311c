import GraphIR

/// `drop-gradients`: removes the gradient outputs (`grad:<parameter>`) of a differentiated
/// graph, leaving its forward part for `dce` to cut out: how the evaluation and inference
/// pipelines take a forward graph back from a training graph dumped after autodiff. A graph
/// without gradient outputs is returned as it is.
///
///     %2 = matmul(%0, %1) {transpose_b=true} : f32[B,3]
///     %6 = matmul(%5, %0) {transpose_a=true} : f32[3,4]
///     output "y" = %2
///     output "grad:w" = %6
/// becomes (%6 is then dead)
///     output "y" = %2
extension Pass {
    public static let dropGradients = Pass(name: "drop-gradients", summary: "remove the gradient outputs of a differentiated graph (dce then removes the backward)") { g, context in
        let gradients = g.gradientOutputs.count
        guard gradients > 0 else { return g }
        let out = GraphBuilder(copying: g)
        out.outputs.removeAll { GradientOutput.parameter(of: $0.name) != nil }
        context.count("gradient outputs removed", gradients)
        return out.finish()
    }
}
