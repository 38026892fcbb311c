import GraphIR

/// `verify`: checks the graph's invariants with the `Verifier` and returns it unchanged.
///
///     %0 = input() {name="x"} : f32[B,4]
///     %1 = relu(%0) : f32[B,8]          // error: verify: relu %1: type f32[B,8] differs from
///                                       //        the inferred f32[B,4] (inputs: f32[B,4])
extension Pass {
    public static let verify = Pass(name: "verify", summary: "check SSA order, arity, types, names, outputs and the loss") { g, _ in
        try Verifier.check(g)
        return g
    }
}
