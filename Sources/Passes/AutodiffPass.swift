import GraphIR

/// `autodiff`: appends the reverse-mode gradient of the loss with respect to every trainable
/// parameter, as outputs named `grad:<parameter>`; weights used by several unrolled steps
/// get the sum of their per-step gradients. A graph that already has them (dumped after
/// autodiff) is left as it is; one with some but not all of them is an error.
///
///     %0 = input() {name="x"} : f32[B,4]
///     %1 = param() {name="w", init="zeros"} : f32[3,4]
///     %2 = matmul(%0, %1) {transpose_b=true} : f32[B,3]
///     %3 = sum(%2) {axes=[0,1]} : f32[]
///     loss = %3
/// becomes, after the forward nodes,
///     %4 = constant() {value=1.0} : f32[]
///     %5 = broadcast_like(%4, %2) : f32[B,3]
///     %6 = matmul(%5, %0) {transpose_a=true} : f32[3,4]
///     output "grad:w" = %6
extension Pass {
    public static let autodiff = Pass(name: "autodiff", summary: "append d(loss)/d(parameter) for every trainable parameter") { g, context in
        if try Autodiff.isDifferentiated(g) {
            context.count("skipped: already differentiated")
            return g
        }
        let out = try Autodiff.differentiate(g)
        context.count("gradients", out.gradientOutputs.count)
        return out
    }
}
